package airtable

import (
	"testing"
)

// TestTextStaysText: a text field holding digits or "true" reads back as the
// text written, while numbers stay numbers.
func TestTextStaysText(t *testing.T) {
	t.Parallel()
	f := New(Options{})
	in := []map[string]any{{"Name": "Zoë", "Phone": "5550100", "Notes": "true", "Segment": `"quoted"`, "Company": "-"}}
	if _, err := f.SeedRecords("acct", "appTest", "Contacts", in); err != nil {
		t.Fatal(err)
	}
	if _, err := f.SeedRecords("acct", "appTest", "Companies", []map[string]any{{"Name": "Acme", "Employees": 42}}); err != nil {
		t.Fatal(err)
	}
	got := f.Records("acct", "appTest", "Contacts")[0]["fields"].(map[string]any)
	for k, want := range in[0] {
		if got[k] != want {
			t.Errorf("%s = %#v, want %#v", k, got[k], want)
		}
	}
	if n := f.Records("acct", "appTest", "Companies")[0]["fields"].(map[string]any)["Employees"]; n != float64(42) {
		t.Errorf("Employees = %#v, want the number 42", n)
	}
}
