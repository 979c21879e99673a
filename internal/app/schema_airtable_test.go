package app_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"patchbay/internal/app/apptest"
	"patchbay/internal/connector"
	fakeairtable "patchbay/internal/fakes/airtable"
)

type schemaJSON struct {
	FetchedAt *string                  `json:"fetched_at"`
	Objects   []connector.SchemaObject `json:"objects"`
}

func getSchema(e *apptest.Env, connID string, refresh bool) schemaJSON {
	e.T.Helper()
	var sc schemaJSON
	if refresh {
		e.MustDo(http.StatusOK, "POST", "/connections/"+connID+"/schema/refresh", nil, &sc)
	} else {
		e.MustDo(http.StatusOK, "GET", "/connections/"+connID+"/schema", nil, &sc)
	}
	return sc
}

func schemaObj(t *testing.T, sc schemaJSON, name string) connector.SchemaObject {
	t.Helper()
	for _, o := range sc.Objects {
		if o.Name == name {
			return o
		}
	}
	t.Fatalf("schema has no object %s: %+v", name, sc.Objects)
	return connector.SchemaObject{}
}

// deleteField removes a field at a fake through its control surface, as a user would at the provider.
func deleteField(e *apptest.Env, provider, account, object, name string) {
	e.T.Helper()
	q := url.Values{"account": {account}, "object": {object}, "name": {name}}
	req, _ := http.NewRequest(http.MethodDelete, fmt.Sprintf("%s/_fakes/%s/_control/fields?%s", e.URL, provider, q.Encode()), nil)
	resp, err := e.HTTP.Do(req)
	if err != nil {
		e.T.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e.T.Fatalf("delete field %s: %d", name, resp.StatusCode)
	}
}

// TestAirtableSyncsBothWays: the bases and tables are discovered (objects
// <base id>/<table id>, typed fields), an inbound sync filters with
// filterByFormula at Airtable and keeps text that looks like a number as
// text, an outbound sync upserts on a merge field 10 records a request with
// values converted to the fields' types, unknown fields are refused with the
// closest names, and a field deleted at Airtable fails the next run as
// schema_changed with nothing written.
func TestAirtableSyncsBothWays(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	const acct = "acct-sch"
	fake := airtableFake(e)
	b1 := fakeairtable.BaseID(acct, 1)
	conn := e.ConnectOAuth("airtable", acct, map[string]string{"base_ids": b1})

	sc := getSchema(e, conn, false)
	if sc.FetchedAt == nil || len(sc.Objects) != 3 {
		t.Fatalf("schema after connect: %+v", sc)
	}
	contacts := b1 + "/" + fakeairtable.TableID(b1, "Contacts")
	obj := schemaObj(t, sc, contacts)
	seg, _ := obj.Field("Segment")
	score, _ := obj.Field("Lead Score")
	zip, _ := obj.Field("Zip")
	if obj.Label != "Contacts" || seg == nil || seg.Type != "enum" || !slices.Contains(seg.Options, "Enterprise") ||
		score == nil || score.Type != "number" || zip == nil || zip.Type != "text" || !zip.Custom || !zip.Writable {
		t.Fatalf("Contacts as discovered: %+v", obj)
	}

	if _, err := fake.SeedRecords(acct, b1, "Contacts", []map[string]any{
		{"Name": "Ann", "Email": "ann@acme.com", "Segment": "Enterprise", "Lead Score": 91, "Zip": "12345"},
		{"Name": "Bob", "Email": "bob@acme.com", "Segment": "SMB", "Lead Score": 20, "Zip": "02139"},
		{"Name": "Cy", "Email": "cy@acme.com", "Segment": "Enterprise", "Lead Score": 55, "Zip": "10001"},
	}); err != nil {
		t.Fatal(err)
	}

	// Inbound, with a mistyped field first: 422 naming the closest one.
	in := createTable(e, "name", "email", "score:number", "zip")
	body := map[string]any{"direction": "inbound", "connection_id": conn, "table_id": in, "object": contacts,
		"filter": `Segment = "enterprise"`, "mapping": []map[string]string{{"source": "Name", "target": "name"},
			{"source": "Email", "target": "email"}, {"source": "Lead Scor", "target": "score"}, {"source": "Zip", "target": "zip"}}}
	st, msg := e.Do("POST", "/syncs", body, nil)
	if st != http.StatusUnprocessableEntity && st != http.StatusBadRequest || !strings.Contains(msg, `\"Lead Score\"`) {
		t.Fatalf("unknown field: %d %s", st, msg)
	}
	body["mapping"].([]map[string]string)[2]["source"] = "Lead Score"
	inSync := createSync(e, body)
	before := fake.Stats().Calls
	r := runSync(e, inSync, nil)
	if r.Status != "succeeded" || r.Created != 2 || r.Read != 2 {
		t.Fatalf("inbound run: %+v", r)
	}
	if calls := fake.Stats().Calls - before; calls != 2 { // the table's schema, then one filtered page
		t.Fatalf("inbound run made %d calls, want 2 (filter applied at Airtable)", calls)
	}
	rows := allRows(e, in, "")
	got := map[string]map[string]any{}
	for _, row := range rows {
		got[row.Values["email"].(string)] = row.Values
	}
	if got["ann@acme.com"]["score"] != 91.0 || got["ann@acme.com"]["zip"] != "12345" || got["bob@acme.com"] != nil {
		t.Fatalf("inbound rows: %v", got)
	}

	// Outbound: 12 rows upserted on Email, 10 a request; one score does not fit.
	out := createTable(e, "email", "name", "score", "segment")
	var add []map[string]any
	for i := range 12 {
		add = append(add, map[string]any{"values": map[string]any{"email": fmt.Sprintf("p%02d@acme.com", i), "name": fmt.Sprintf("P %d", i),
			"score": fmt.Sprint(10 + i), "segment": "smb"}})
	}
	add = append(add, map[string]any{"values": map[string]any{"email": "bad@acme.com", "name": "Bad", "score": "lots"}})
	add = append(add, map[string]any{"values": map[string]any{"email": "ann@acme.com", "name": "Ann Lee", "score": "95"}})
	e.MustDo(http.StatusCreated, "POST", "/tables/"+out+"/rows", map[string]any{"rows": add}, nil)
	outSync := createSync(e, map[string]any{"direction": "outbound", "connection_id": conn, "table_id": out, "object": contacts,
		"match_key": "Email", "mapping": []map[string]string{{"source": "email", "target": "Email"}, {"source": "name", "target": "Name"},
			{"source": "score", "target": "Lead Score"}, {"source": "segment", "target": "Segment"}}})
	before = fake.Stats().Calls
	r = runSync(e, outSync, nil)
	if r.Status != "partial" || r.Created != 12 || r.Updated != 1 || r.Failed != 1 || len(r.RowErrors) != 1 ||
		!strings.Contains(r.RowErrors[0].Message, "Lead Score") || !strings.Contains(r.RowErrors[0].Message, "lots") {
		t.Fatalf("outbound run: %+v", r)
	}
	if calls := fake.Stats().Calls - before; calls != 3 { // the schema, then 13 records in writes of 10 and 3
		t.Fatalf("outbound run made %d calls, want 3", calls)
	}
	held := map[string]map[string]any{}
	for _, rec := range fake.Records(acct, b1, "Contacts") {
		f := rec["fields"].(map[string]any)
		held[f["Email"].(string)] = f
	}
	if len(held) != 15 || held["p03@acme.com"]["Lead Score"] != 13.0 || held["p03@acme.com"]["Segment"] != "SMB" ||
		held["ann@acme.com"]["Lead Score"] != 95.0 || held["ann@acme.com"]["Name"] != "Ann Lee" || held["bad@acme.com"] != nil {
		b, _ := json.Marshal(held)
		t.Fatalf("Airtable holds %d: %s", len(held), b)
	}

	// The field is deleted at Airtable: the next runs fail as schema_changed, writing nothing.
	deleteField(e, "airtable", acct, contacts, "Lead Score")
	e.MustDo(http.StatusOK, "PATCH", "/tables/"+out+"/rows/"+firstRowID(e, out), map[string]any{"values": map[string]any{"name": "Changed"}}, nil)
	before = fake.Stats().Calls
	for _, id := range []string{inSync, outSync} {
		r = runSync(e, id, nil)
		if r.Status != "failed" || r.ErrorClass != "schema_changed" || !strings.Contains(r.Error, "Lead Score") || !strings.Contains(r.Error, "Contacts") {
			t.Fatalf("run after the field was deleted: %+v", r)
		}
	}
	if calls := fake.Stats().Calls - before; calls != 2 {
		t.Fatalf("failed runs made %d calls, want 2 (schema checks only)", calls)
	}
	if held := fake.Records(acct, b1, "Contacts"); len(held) != 15 {
		t.Fatalf("after schema_changed Airtable holds %d records", len(held))
	}
	// A new field shows after a refresh.
	fake.AddField(acct, b1, "Contacts", "Region", "singleLineText")
	if _, ok := func() (*connector.SchemaField, bool) {
		o := schemaObj(t, getSchema(e, conn, true), contacts)
		return o.Field("Region")
	}(); !ok {
		t.Fatal("a field added at Airtable is missing after a refresh")
	}
}

func firstRowID(e *apptest.Env, tableID string) string {
	e.T.Helper()
	rows := allRows(e, tableID, "")
	return rows[0].ID
}
