package salesforce

import (
	"strings"
	"testing"
	"time"

	"patchbay/internal/fakes/fakekit"
)

func TestSOQL(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	recs := []fakekit.Record{
		{ID: "101", Fields: map[string]string{"LastName": "Ann", "Email": "ann@acme.com"}, CreatedAt: at, UpdatedAt: at},
		{ID: "102", Fields: map[string]string{"LastName": "O'Brien", "Email": "ob@beta.io"}, CreatedAt: at, UpdatedAt: at.Add(time.Hour)},
		{ID: "103", Fields: map[string]string{"LastName": "Cy"}, CreatedAt: at, UpdatedAt: at.Add(time.Minute)},
	}
	cases := []struct {
		soql, want, err string
	}{
		{"SELECT Id FROM Contact", "101,102,103", ""},
		{"select id, lastname from contact where email = 'ANN@acme.com'", "101", ""},
		{`SELECT Id FROM Contact WHERE LastName = 'O\'Brien'`, "102", ""},
		{"SELECT Id FROM Contact WHERE Email IN ('ob@beta.io', 'ann@acme.com') ORDER BY Id DESC", "102,101", ""},
		{"SELECT Id FROM Contact WHERE SystemModstamp >= 2026-03-01T12:01:00Z ORDER BY SystemModstamp ASC, Id ASC", "103,102", ""},
		{"SELECT Id FROM Contact WHERE Email = null", "103", ""},
		{"SELECT Id FROM Contact WHERE Email LIKE '%acme%' LIMIT 5", "101", ""},
		{"SELECT Id FROM Contact LIMIT 1", "101", ""},
		{"SELECT Id FROM Widget", "", "INVALID_TYPE"},
		{"SELECT Shoe FROM Contact", "", "INVALID_FIELD"},
		{"SELECT Id FROM Contact WHERE Email = 'ob@beta.io' OR LastName = 'Cy'", "102,103", ""},
		{"SELECT Id FROM Contact WHERE (Email = 'ob@beta.io' OR LastName = 'Ann') AND NOT Email LIKE '%acme%'", "102", ""},
		{"SELECT Id FROM Contact WHERE Email NOT IN ('ob@beta.io') AND (Email = null OR LastName = 'Ann')", "101,103", ""},
		{"SELECT COUNT() FROM Contact WHERE Email != null", "101,102", ""},
		{"SELECT Id FROM Contact WHERE Email = 'a' AND Email = 'b' OR Email = 'c'", "", "MALFORMED_QUERY"},
		{"SELECT Id FROM Contact WHERE (Email = 'a'", "", "MALFORMED_QUERY"},
		{"DELETE FROM Contact", "", "MALFORMED_QUERY"},
	}
	for _, c := range cases {
		q, err := parseQuery(c.soql)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: err %v, want %s", c.soql, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.soql, err)
			continue
		}
		if got := strings.Join(q.run(recs), ","); got != c.want {
			t.Errorf("%s: %s, want %s", c.soql, got, c.want)
		}
	}
}

func TestIDs(t *testing.T) {
	t.Parallel()
	id := RecordID("Lead", "101")
	if len(id) != 18 || !strings.HasPrefix(id, "00Q000000000101") {
		t.Fatalf("lead id %s", id)
	}
	if back, ok := storeID("00Q", id); !ok || back != "101" {
		t.Fatalf("back %s %v", back, ok)
	}
	if _, ok := storeID("00Q", id[:17]+"X"); ok {
		t.Fatal("a bad checksum suffix was accepted")
	}
	if _, ok := storeID("003", id); ok {
		t.Fatal("a lead id was taken for a contact")
	}
}
