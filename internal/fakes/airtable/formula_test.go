package airtable

import (
	"testing"
	"time"

	"patchbay/internal/fakes/fakekit"
)

func TestFormula(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	rec := fakekit.Record{ID: "101", Fields: map[string]string{"Name": "Ann", "Segment": "Enterprise", "Notes": ""}, CreatedAt: at, UpdatedAt: at.Add(time.Hour)}
	contacts, _ := New(Options{}).lookupTable("acct-demo", BaseID("acct-demo", 1), "Contacts")
	cases := []struct {
		formula string
		want    bool
		bad     bool
	}{
		{`{Segment} = 'Enterprise'`, true, false},
		{`{Segment} = "SMB"`, false, false},
		{`AND({Name} = 'Ann', NOT({Segment} = 'SMB'))`, true, false},
		{`OR({Name} = 'Bob', {Name} = 'Ann')`, true, false},
		{`FIND('nn', {Name}) = 2`, true, false},
		{`FIND('zz', {Name})`, false, false},
		{`FIND('x', {Notes})`, false, false},
		{`{Notes} = ''`, true, false},
		{`LOWER({Name}) = 'ann'`, true, false},
		{`NOT(IS_BEFORE(LAST_MODIFIED_TIME(), '2026-03-01T13:00:00.000Z'))`, true, false},
		{`IS_AFTER(LAST_MODIFIED_TIME(), '2026-03-01T13:00:00.000Z')`, false, false},
		{`IS_SAME(CREATED_TIME(), '2026-03-01T12:00:00.000Z')`, true, false},
		{`RECORD_ID() = 'rec00000000000101'`, true, false},
		{`{Shoe size} = 1`, false, true},
		{`SEARCH('a', {Name})`, false, true},
		{`AND({Name} = 'Ann'`, false, true},
	}
	for _, c := range cases {
		e, err := parseFormula(c.formula, contacts)
		if c.bad {
			if err == nil {
				t.Errorf("%s: accepted", c.formula)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.formula, err)
			continue
		}
		if got := truthy(e.eval(rec)); got != c.want {
			t.Errorf("%s = %v, want %v", c.formula, got, c.want)
		}
	}
}
