package shopify

import (
	"testing"
	"time"

	"patchbay/internal/fakes/fakekit"
)

func TestSearchSyntax(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	recs := []fakekit.Record{
		{ID: "1", UpdatedAt: at, Fields: map[string]string{"email": "bob@example.com", "firstName": "Bob", "lastName": "Norman", "tags": "vip,wholesale", "state": "ENABLED"}},
		{ID: "2", UpdatedAt: at.Add(time.Hour), Fields: map[string]string{"email": "bob@example.com.au", "firstName": "Bobby", "state": "DISABLED"}},
		{ID: "3", UpdatedAt: at.Add(2 * time.Hour), Fields: map[string]string{"email": "ann.smith@example.com", "firstName": "Ann", "lastName": "Smith", "phone": "+16135550100"}},
	}
	cases := []struct {
		query string
		want  string // ids of the matches
	}{
		{`email:bob@example.com`, "12"},           // tokenised: both hold bob, example, com
		{`email:"bob@example.com"`, "12"},         // a phrase, still not an exact address
		{`email:"bob@example.com.au"`, "2"},       // the longer phrase only in one
		{`email:"example.com bob"`, ""},           // a phrase keeps its order
		{`email:smith`, "3"},                      // one token of the address
		{`first_name:bob*`, "12"},                 // prefix
		{`Bob`, "12"},                             // default fields: names, e-mail, phone, tags
		{`tag:VIP`, "1"},                          // tags compare whole, case-insensitive
		{`state:enabled OR state:disabled`, "12"}, // OR
		{`-state:disabled`, "13"},                 // NOT
		{`NOT (first_name:bob OR first_name:ann)`, "2"},
		{`email:example updated_at:>='2026-03-01T12:30:00Z'`, "23"},
		{`id:>=2 id:<3`, "2"},
		{`nosuchfield:x`, "123"}, // ignored, with a warning
	}
	for _, tc := range cases {
		n, warnings, err := parseSearch(tc.query, "Customer")
		if err != nil {
			t.Errorf("%s: %v", tc.query, err)
			continue
		}
		got := ""
		for _, r := range recs {
			if n.match(r, "Customer") {
				got += r.ID
			}
		}
		if got != tc.want {
			t.Errorf("%s matched %q, want %q", tc.query, got, tc.want)
		}
		if (tc.query == "nosuchfield:x") != (len(warnings) == 1) {
			t.Errorf("%s: warnings %v", tc.query, warnings)
		}
	}
	for _, bad := range []string{`email:"open`, `(state:enabled`, `OR state:enabled`} {
		if _, _, err := parseSearch(bad, "Customer"); err == nil {
			t.Errorf("%s parsed", bad)
		}
	}
}

func TestServeVersion(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		asked, served string
		retired, ok   bool
	}{
		{APIVersion, APIVersion, false, true},
		{"2026-01", "2026-01", false, true},
		{ReleaseCandidate, ReleaseCandidate, false, true},
		{"unstable", "unstable", false, true},
		{"2025-01", "2026-01", true, true}, // retired: falls forward to the oldest supported
		{"2019-04", "2026-01", true, true},
		{"2026-02", "", false, false}, // not a quarterly version
		{"2031-01", "", false, false}, // not released
		{"latest", "", false, false},
	} {
		served, retired, ok := serveVersion(tc.asked)
		if served != tc.served || retired != tc.retired || ok != tc.ok {
			t.Errorf("%s: served %q retired %v ok %v", tc.asked, served, retired, ok)
		}
	}
}
