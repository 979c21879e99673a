package app_test

import (
	"testing"

	"patchbay/internal/app/apptest"
	"patchbay/internal/fakes/fakekit"
)

// A record read again without changes (incremental passes overlap; a webhook
// and a poll meet) leaves the row as it is, so that an edit or an enrichment
// of a mapped column stands; a change at the source wins again.
func TestUnchangedRecordReadAgainKeepsTheRowsValues(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	conn := e.ConnectOAuth("hubspot", "acct-again", nil, contactScopes...)
	recs, err := hubspotFake(e).SeedRecords("acct-again", "contacts", []map[string]any{{"email": "kim@acme.com", "company": "Acme"}})
	if err != nil {
		t.Fatal(err)
	}
	tbl := createTable(e, "email", "company")
	id := createSync(e, map[string]any{"direction": "inbound", "connection_id": conn, "table_id": tbl, "object": "contacts",
		"mapping": []map[string]string{{"source": "email", "target": "email"}, {"source": "company", "target": "company"}}})
	if r := runSync(e, id, nil); r.Created != 1 {
		t.Fatalf("first run %+v", r)
	}
	row := allRows(e, tbl, "")[0]
	e.MustDo(200, "PATCH", "/tables/"+tbl+"/rows/"+row.ID, map[string]any{"values": map[string]any{"company": "Acme Corporation"}}, nil)

	if r := runSync(e, id, nil); r.Read != 1 || r.Unchanged != 1 || r.Updated != 0 {
		t.Fatalf("the unchanged record read again: %+v", r)
	}
	if got := allRows(e, tbl, "")[0].Values["company"]; got != "Acme Corporation" {
		t.Fatalf("company %v after reading the unchanged record again, want the edit kept", got)
	}

	err = hubspotFake(e).Kit().Records("acct-again", "contacts").Tx(func(tx *fakekit.Tx) error {
		tx.Update(recs[0].ID, map[string]string{"company": "Acme Inc"})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if r := runSync(e, id, nil); r.Updated != 1 {
		t.Fatalf("the changed record: %+v", r)
	}
	if got := allRows(e, tbl, "")[0].Values["company"]; got != "Acme Inc" {
		t.Fatalf("company %v after a change at the source, want the source's value", got)
	}
}
