package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"patchbay/internal/app"
	"patchbay/internal/app/apptest"
	"patchbay/internal/catalog"
	"patchbay/internal/connection"
	"patchbay/internal/connector"
	"patchbay/internal/connector/hubspot"
	fakehubspot "patchbay/internal/fakes/hubspot"
	"patchbay/internal/store"
	"patchbay/internal/syncer"
)

var contactScopes = []string{"crm.objects.contacts.read", "crm.objects.contacts.write"}

type rowJSON struct {
	ID      string         `json:"id"`
	Values  map[string]any `json:"values"`
	Sources []struct {
		ConnectionID string `json:"connection_id"`
		ExternalID   string `json:"external_id"`
	} `json:"sources"`
	DeletedAt *string `json:"deleted_at"`
}

type runJSON struct {
	ID         string `json:"id"`
	Trigger    string `json:"trigger"`
	Status     string `json:"status"`
	Read       int    `json:"read"`
	Created    int    `json:"created"`
	Updated    int    `json:"updated"`
	Unchanged  int    `json:"unchanged"`
	Failed     int    `json:"failed"`
	ErrorClass string `json:"error_class"`
	Error      string `json:"error"`
	RowErrors  []struct {
		RowID   string `json:"row_id"`
		Message string `json:"message"`
	} `json:"row_errors"`
	Plan []syncer.PlanItem `json:"plan"`
}

func createTable(e *apptest.Env, cols ...string) string {
	e.T.Helper()
	var columns []map[string]string
	for _, c := range cols {
		name, typ, _ := strings.Cut(c, ":")
		if typ == "" {
			typ = "text"
		}
		columns = append(columns, map[string]string{"name": name, "type": typ})
	}
	var tb struct{ ID string }
	e.MustDo(201, "POST", "/tables", map[string]any{"name": "Leads", "columns": columns}, &tb)
	return tb.ID
}

func createSync(e *apptest.Env, body map[string]any) string {
	e.T.Helper()
	var y struct{ ID string }
	e.MustDo(201, "POST", "/syncs", body, &y)
	return y.ID
}

func runSync(e *apptest.Env, id string, body any) runJSON {
	e.T.Helper()
	var r runJSON
	e.MustDo(200, "POST", "/syncs/"+id+"/run", body, &r)
	return r
}

// allRows pages through a table with the API's cursor.
func allRows(e *apptest.Env, tableID string, query string) []rowJSON {
	e.T.Helper()
	var out []rowJSON
	cursor := ""
	for {
		var page struct {
			Rows       []rowJSON `json:"rows"`
			NextCursor *string   `json:"next_cursor"`
		}
		e.MustDo(200, "GET", "/tables/"+tableID+"/rows?limit=100&cursor="+url.QueryEscape(cursor)+query, nil, &page)
		out = append(out, page.Rows...)
		if page.NextCursor == nil {
			return out
		}
		cursor = *page.NextCursor
	}
}

func seedContacts(t *testing.T, e *apptest.Env, account string, n int, mk func(i int) map[string]any) {
	t.Helper()
	recs := make([]map[string]any, n)
	for i := range recs {
		recs[i] = mk(i)
	}
	if _, err := hubspotFake(e).SeedRecords(account, "contacts", recs); err != nil {
		t.Fatal(err)
	}
}

func segmentContact(i int) map[string]any {
	return map[string]any{"email": fmt.Sprintf("p%04d@acme.com", i), "firstname": fmt.Sprint("P", i), "segment": []string{"Enterprise", "SMB", "Mid", "SMB"}[i%4]}
}

func TestTablesAPI(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	st, body := e.Do("POST", "/tables", map[string]any{"name": "", "columns": []map[string]string{{"name": "a", "type": "money"}, {"name": "a", "type": "text"}}}, nil)
	if st != 422 || !strings.Contains(body, `"field":"name"`) || !strings.Contains(body, `columns[0].type`) || !strings.Contains(body, `defined twice`) {
		t.Fatalf("bad table: %d %s", st, body)
	}
	tbl := createTable(e, "email", "age:number", "vip:boolean", "seen:datetime", "extra:json")
	st, body = e.Do("POST", "/tables/"+tbl+"/rows", map[string]any{"rows": []any{
		map[string]any{"values": map[string]any{"email": "a@x.com", "age": 3}},
		map[string]any{"values": map[string]any{"email": 5, "age": "old", "vip": "yes", "seen": "yesterday", "nope": 1}},
	}}, nil)
	for _, want := range []string{"rows[1].values.email", "rows[1].values.age", "rows[1].values.vip", "rows[1].values.seen", "rows[1].values.nope"} {
		if st != 422 || !strings.Contains(body, want) {
			t.Fatalf("bad rows: want 422 naming %s; got %d %s", want, st, body)
		}
	}
	if rows := allRows(e, tbl, ""); len(rows) != 0 {
		t.Fatalf("a refused write left %d rows", len(rows))
	}
	var rows []any
	for i := range 250 {
		rows = append(rows, map[string]any{"values": map[string]any{"email": fmt.Sprintf("r%d@x.com", i), "age": i, "vip": i%2 == 0,
			"seen": "2026-01-02", "extra": map[string]any{"i": i}}})
	}
	e.MustDo(201, "POST", "/tables/"+tbl+"/rows", map[string]any{"rows": rows}, nil)
	got := allRows(e, tbl, "")
	seen := map[string]bool{}
	for _, r := range got {
		seen[r.ID] = true
	}
	if len(got) != 250 || len(seen) != 250 || got[0].Values["seen"] != "2026-01-02T00:00:00Z" {
		t.Fatalf("paged %d rows (%d distinct), first %v", len(got), len(seen), got[0].Values)
	}
	var patched rowJSON
	e.MustDo(200, "PATCH", "/tables/"+tbl+"/rows/"+got[0].ID, map[string]any{"values": map[string]any{"age": 40, "extra": nil}}, &patched)
	if patched.Values["age"] != float64(40) || patched.Values["extra"] != nil || patched.Values["email"] != got[0].Values["email"] {
		t.Fatalf("patched %v", patched.Values)
	}
	if st, body := e.Do("PATCH", "/tables/"+tbl+"/rows/"+got[0].ID, map[string]any{"values": map[string]any{"age": "x"}}, nil); st != 422 || !strings.Contains(body, "values.age") {
		t.Fatalf("bad patch: %d %s", st, body)
	}
	if st, _ := e.Do("GET", "/tables/"+tbl+"/rows?limit=5000", nil, nil); st != 422 {
		t.Fatalf("limit 5000: %d", st)
	}
	var list struct{ Tables []struct{ ID string } }
	e.MustDo(200, "GET", "/tables", nil, &list)
	if len(list.Tables) != 1 || list.Tables[0].ID != tbl {
		t.Fatalf("tables %+v", list)
	}

	// Another workspace sees none of it.
	ctx := context.Background()
	if _, err := e.Store().EnsureWorkspace(ctx, "other", "Other", "standard"); err != nil {
		t.Fatal(err)
	}
	if err := e.Store().EnsureToken(ctx, "other", "t", "admin", connection.HashToken("other-token-0123456789")); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/tables/" + tbl, "/tables/" + tbl + "/rows", "/tables/" + tbl + "/syncs"} {
		req, _ := http.NewRequest("GET", e.URL+"/api/v1"+path, nil)
		req.Header.Set("Authorization", "Bearer other-token-0123456789")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("other workspace GET %s: %d", path, resp.StatusCode)
		}
	}
}

func TestSyncValidation(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	conn := e.ConnectOAuth("hubspot", "acct-v", nil, contactScopes...)
	tbl := createTable(e, "email")
	st, body := e.Do("POST", "/syncs", map[string]any{"direction": "inbound", "connection_id": conn, "table_id": tbl, "object": "deals",
		"filter": `segment = "SMB" and (`, "mapping": []map[string]string{{"source": "email", "target": "mail"}}, "schedule": "every:1s"}, nil)
	for _, want := range []string{`"field":"object"`, "position 22", `"field":"schedule"`} {
		if st != 422 || !strings.Contains(body, want) {
			t.Fatalf("want 422 with %s: %d %s", want, st, body)
		}
	}
	st, body = e.Do("POST", "/syncs", map[string]any{"direction": "inbound", "connection_id": conn, "table_id": tbl, "object": "contacts",
		"filter": `shoe_size > 3`, "mapping": []map[string]string{{"source": "email", "target": "mail"}}}, nil)
	if st != 422 || !strings.Contains(body, "shoe_size") || !strings.Contains(body, `mapping[0].target`) {
		t.Fatalf("unknown fields: %d %s", st, body)
	}
	st, body = e.Do("POST", "/syncs", map[string]any{"direction": "outbound", "connection_id": conn, "table_id": tbl, "object": "contacts",
		"match_key": "phone", "mapping": []map[string]string{{"source": "email", "target": "email"}}}, nil)
	if st != 422 || !strings.Contains(body, "match_key") {
		t.Fatalf("bad match key: %d %s", st, body)
	}
	id := createSync(e, map[string]any{"direction": "inbound", "connection_id": conn, "table_id": tbl, "object": "contacts",
		"mapping": []map[string]string{{"source": "email", "target": "email"}}, "schedule": "every"})
	var y struct {
		Schedule    string `json:"schedule"`
		Paused      bool   `json:"paused"`
		PauseReason string `json:"pause_reason"`
	}
	e.MustDo(200, "PATCH", "/syncs/"+id, map[string]any{"paused": true}, &y)
	if y.Schedule != "every:15m0s" || !y.Paused || y.PauseReason != "user" {
		t.Fatalf("after pause: %+v", y)
	}
	if st, body := e.Do("POST", "/syncs/"+id+"/run", nil, nil); st != 409 || !strings.Contains(body, "paused") {
		t.Fatalf("run while paused: %d %s", st, body)
	}
	e.MustDo(200, "PATCH", "/syncs/"+id, map[string]any{"paused": false}, &y)
	if y.Paused {
		t.Fatal("resume did not resume")
	}
	var list struct{ Syncs []struct{ ID string } }
	e.MustDo(200, "GET", "/tables/"+tbl+"/syncs", nil, &list)
	if len(list.Syncs) != 1 || list.Syncs[0].ID != id {
		t.Fatalf("table syncs %+v", list)
	}
}

func TestInboundSyncIsIdempotentAndFilters(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	conn := e.ConnectOAuth("hubspot", "acct-in", nil, contactScopes...)
	seedContacts(t, e, "acct-in", 240, segmentContact)
	tbl := createTable(e, "email", "first", "segment")
	mapping := []map[string]string{{"source": "email", "target": "email"}, {"source": "firstname", "target": "first"}, {"source": "segment", "target": "segment"}}
	all := createSync(e, map[string]any{"direction": "inbound", "connection_id": conn, "table_id": tbl, "object": "contacts", "mapping": mapping})
	r1 := runSync(e, all, nil)
	r2 := runSync(e, all, nil)
	if r1.Status != "succeeded" || r1.Created != 240 || r2.Created != 0 || r2.Updated != 0 {
		t.Fatalf("first %+v second %+v", r1, r2)
	}
	rows := allRows(e, tbl, "")
	if len(rows) != 240 || len(rows[0].Sources) != 1 || rows[0].Sources[0].ConnectionID != conn {
		t.Fatalf("%d rows, first %+v", len(rows), rows[0])
	}
	// A change at the source arrives in the next incremental run.
	seedContacts(t, e, "acct-in", 1, func(int) map[string]any {
		return map[string]any{"id": rows[0].Sources[0].ExternalID, "email": rows[0].Values["email"], "firstname": "Changed", "segment": rows[0].Values["segment"]}
	})
	r3 := runSync(e, all, nil)
	if r3.Updated != 1 || r3.Created != 0 {
		t.Fatalf("incremental after one change: %+v", r3)
	}
	var runs struct{ Runs []runJSON }
	e.MustDo(200, "GET", "/syncs/"+all+"/runs", nil, &runs)
	if len(runs.Runs) != 3 || runs.Runs[0].ID != r3.ID {
		t.Fatalf("history %+v", runs)
	}
	var one runJSON
	e.MustDo(200, "GET", "/runs/"+r1.ID, nil, &one)
	if one.Created != 240 || one.Trigger != "manual" {
		t.Fatalf("run %+v", one)
	}

	// Push-down: only the matching records travel.
	tbl2 := createTable(e, "email", "first", "segment")
	ent := createSync(e, map[string]any{"direction": "inbound", "connection_id": conn, "table_id": tbl2, "object": "contacts", "mapping": mapping,
		"filter": `segment = "enterprise" or segment is empty`})
	r := runSync(e, ent, nil)
	if r.Read != 60 || r.Created != 60 {
		t.Fatalf("pushed-down filter: %+v", r)
	}
	// contains runs locally: everything travels, the matches land.
	tbl3 := createTable(e, "email", "first", "segment")
	loc := createSync(e, map[string]any{"direction": "inbound", "connection_id": conn, "table_id": tbl3, "object": "contacts", "mapping": mapping,
		"filter": `email contains "P001" and segment != "Enterprise"`})
	r = runSync(e, loc, nil)
	if r.Created != 8 || r.Read != 180 {
		// segment != "Enterprise" is pushed (180 travel), contains is local (p0010..p0019 minus the two Enterprise ones).
		t.Fatalf("partly local filter: %+v", r)
	}
}

func TestFullRefreshMarksDeletedRecords(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	conn := e.ConnectOAuth("hubspot", "acct-full", nil, contactScopes...)
	seedContacts(t, e, "acct-full", 30, segmentContact)
	tbl := createTable(e, "email")
	id := createSync(e, map[string]any{"direction": "inbound", "connection_id": conn, "table_id": tbl, "object": "contacts", "mode": "full",
		"mapping": []map[string]string{{"source": "email", "target": "email"}}})
	if r := runSync(e, id, nil); r.Created != 30 {
		t.Fatalf("first full run %+v", r)
	}
	recs := hubspotFake(e).Kit().Records("acct-full", "contacts")
	gone := recs.All()[:3]
	for _, g := range gone {
		recs.Delete(g.ID)
	}
	r := runSync(e, id, nil)
	if r.Read != 27 || r.Created != 0 || !strings.Contains(r.Error, "3 records were deleted") {
		t.Fatalf("second full run %+v", r)
	}
	live, withDeleted := allRows(e, tbl, ""), allRows(e, tbl, "&include_deleted=true")
	deleted := 0
	for _, row := range withDeleted {
		if row.DeletedAt != nil {
			deleted++
		}
	}
	if len(live) != 27 || len(withDeleted) != 30 || deleted != 3 {
		t.Fatalf("live %d, all %d, deleted %d", len(live), len(withDeleted), deleted)
	}
	// A record that comes back brings its row back.
	if _, err := hubspotFake(e).SeedRecords("acct-full", "contacts", []map[string]any{{"id": gone[0].ID, "email": gone[0].Fields["email"]}}); err != nil {
		t.Fatal(err)
	}
	if r := runSync(e, id, nil); r.Updated != 1 || r.Created != 0 {
		t.Fatalf("third full run %+v", r)
	}
	if live := allRows(e, tbl, ""); len(live) != 28 {
		t.Fatalf("live after return %d", len(live))
	}
}

// hooked is the HubSpot connector with a hook after each List call.
type hooked struct {
	*hubspot.Connector
	lists     atomic.Int64
	afterList func(n int64)
	listErr   error
}

func (h *hooked) List(ctx context.Context, s connector.Session, req connector.ListRequest) (connector.Page, error) {
	if h.listErr != nil {
		return connector.Page{}, h.listErr
	}
	p, err := h.Connector.List(ctx, s, req)
	if h.afterList != nil {
		h.afterList(h.lists.Add(1))
	}
	return p, err
}

func hookedEnv(t *testing.T, h *hooked) *apptest.Env {
	reg := connector.NewRegistry()
	if err := reg.Register("hubspot", h); err != nil {
		t.Fatal(err)
	}
	return apptest.Start(t, apptest.Options{Connectors: reg})
}

func TestCrashMidRunResumesFromLastPage(t *testing.T) {
	t.Parallel()
	h := &hooked{Connector: hubspot.New()}
	e := hookedEnv(t, h)
	conn := e.ConnectOAuth("hubspot", "acct-crash", nil, contactScopes...)
	seedContacts(t, e, "acct-crash", 500, segmentContact)
	tbl := createTable(e, "email")
	id := createSync(e, map[string]any{"direction": "inbound", "connection_id": conn, "table_id": tbl, "object": "contacts",
		"mapping": []map[string]string{{"source": "email", "target": "email"}}})

	ctx, cancel := context.WithCancel(context.Background())
	start := h.lists.Load()
	h.afterList = func(n int64) {
		if n-start == 3 {
			cancel() // the process dies while the third page is in hand
		}
	}
	res, err := e.App.Engine().Run(ctx, id, syncer.Options{Trigger: syncer.TriggerManual})
	if err != nil {
		t.Fatal(err)
	}
	if res.Run.Status != syncer.StatusInterrupted || res.Run.Created != 200 {
		t.Fatalf("interrupted run %+v", res.Run)
	}
	if rows := allRows(e, tbl, ""); len(rows) != 200 {
		t.Fatalf("after the crash: %d rows, want the two committed pages", len(rows))
	}
	h.afterList = nil
	r := runSync(e, id, nil)
	if r.Read != 300 || r.Created != 300 {
		t.Fatalf("resumed run %+v: want it to start at the third page", r)
	}
	rows := allRows(e, tbl, "")
	emails := map[any]bool{}
	for _, row := range rows {
		emails[row.Values["email"]] = true
	}
	if len(rows) != 500 || len(emails) != 500 {
		t.Fatalf("%d rows, %d distinct e-mails", len(rows), len(emails))
	}
}

func TestReconnectMidRunDoesNotFailTheRun(t *testing.T) {
	t.Parallel()
	h := &hooked{Connector: hubspot.New()}
	e := hookedEnv(t, h)
	conn := e.ConnectOAuth("hubspot", "acct-rc", nil, contactScopes...)
	seedContacts(t, e, "acct-rc", 300, segmentContact)
	tbl := createTable(e, "email")
	id := createSync(e, map[string]any{"direction": "inbound", "connection_id": conn, "table_id": tbl, "object": "contacts",
		"mapping": []map[string]string{{"source": "email", "target": "email"}}})
	start := h.lists.Load()
	h.afterList = func(n int64) {
		if n-start != 1 {
			return
		}
		// Between pages: the old grant dies and the user reconnects. Only the
		// new credentials work from now on.
		hubspotFake(e).Kit().Revoke("acct-rc")
		var rc struct {
			AuthorizeURL string `json:"authorize_url"`
		}
		e.MustDo(200, "POST", "/connections/"+conn+"/reconnect", nil, &rc)
		if st, body := e.Consent(rc.AuthorizeURL, url.Values{"account": {"acct-rc"}}); st != http.StatusSeeOther {
			t.Fatalf("reconnect callback %d %s", st, body)
		}
	}
	r := runSync(e, id, nil)
	if r.Status != "succeeded" || r.Created != 300 {
		t.Fatalf("run across a reconnect: %+v", r)
	}
	if c := e.Connection(conn); c.Status != "connected" {
		t.Fatalf("connection %s/%s", c.Status, c.Reason)
	}
}

func TestOutboundSync(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	conn := e.ConnectOAuth("hubspot", "acct-out", nil, contactScopes...)
	seedContacts(t, e, "acct-out", 1, func(int) map[string]any {
		return map[string]any{"email": "ann@x.com", "firstname": "Ann", "lastname": "Old"}
	})
	tbl := createTable(e, "email", "first", "last")
	e.MustDo(201, "POST", "/tables/"+tbl+"/rows", map[string]any{"rows": []any{
		map[string]any{"values": map[string]any{"email": "ann@x.com", "last": "New"}}, // no first name: Ann stays
		map[string]any{"values": map[string]any{"email": "bob@x.com", "first": "Bob"}},
		map[string]any{"values": map[string]any{"first": "Nomail"}},
	}}, nil)
	id := createSync(e, map[string]any{"direction": "outbound", "connection_id": conn, "table_id": tbl, "object": "contacts", "match_key": "email",
		"mapping": []map[string]string{{"source": "email", "target": "email"}, {"source": "first", "target": "firstname"}, {"source": "last", "target": "lastname"}}})
	fake := hubspotFake(e)
	before := fake.Stats().Calls

	dry := runSync(e, id, map[string]any{"dry_run": true})
	if dry.Status != "dry_run" || dry.Created != 2 || dry.Failed != 1 || len(dry.Plan) != 3 || fake.Stats().Calls != before {
		t.Fatalf("dry run %+v (calls %d)", dry, fake.Stats().Calls-before)
	}
	if len(fake.Records("acct-out", "contacts")) != 1 {
		t.Fatal("the dry run wrote")
	}
	r := runSync(e, id, nil)
	if r.Status != "partial" || r.Created != 1 || r.Updated != 1 || r.Failed != 1 || len(r.RowErrors) != 1 || !strings.Contains(r.RowErrors[0].Message, "no email") {
		t.Fatalf("first push %+v", r)
	}
	byEmail := map[string]map[string]string{}
	for _, rec := range fake.Records("acct-out", "contacts") {
		byEmail[rec.Fields["email"]] = rec.Fields
	}
	if byEmail["ann@x.com"]["firstname"] != "Ann" || byEmail["ann@x.com"]["lastname"] != "New" || byEmail["bob@x.com"]["firstname"] != "Bob" {
		t.Fatalf("provider holds %v", byEmail)
	}
	r = runSync(e, id, nil)
	if r.Unchanged != 2 || r.Created+r.Updated != 0 || r.Failed != 1 {
		t.Fatalf("second push %+v", r)
	}
	rows := allRows(e, tbl, "")
	var bob rowJSON
	for _, row := range rows {
		if row.Values["email"] == "bob@x.com" {
			bob = row
		}
	}
	e.MustDo(200, "PATCH", "/tables/"+tbl+"/rows/"+bob.ID, map[string]any{"values": map[string]any{"first": "Robert"}}, nil)
	r = runSync(e, id, nil)
	if r.Updated != 1 || r.Unchanged != 1 {
		t.Fatalf("push after an edit %+v", r)
	}
	for _, rec := range fake.Records("acct-out", "contacts") {
		if rec.Fields["email"] == "bob@x.com" && rec.Fields["firstname"] != "Robert" {
			t.Fatalf("bob is %v", rec.Fields)
		}
	}
}

// TestFullSyncStaysWithinTheLimit reads and writes through a tight limit:
// the fake must never have to refuse a request.
func TestFullSyncStaysWithinTheLimit(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{
		Fakes: func() map[string]app.Fake {
			f := app.DemoFakes()
			hs := f["hubspot"]
			hs.Handler = fakehubspot.New(fakehubspot.Options{ClientID: hs.ClientID, ClientSecret: hs.ClientSecret, RateLimit: 20, RateWindow: time.Second})
			f["hubspot"] = hs
			return f
		},
		Catalog: func(c *catalog.Catalog) *catalog.Catalog {
			p, _ := c.Get("hubspot")
			q := *p
			q.RateLimit = catalog.RateLimit{Requests: 20, Period: "1s"}
			q.PageSize = 20
			return c.WithProvider(&q)
		},
	})
	conn := e.ConnectOAuth("hubspot", "acct-lim", nil, contactScopes...)
	seedContacts(t, e, "acct-lim", 1000, segmentContact)
	tbl := createTable(e, "email", "first")
	in := createSync(e, map[string]any{"direction": "inbound", "connection_id": conn, "table_id": tbl, "object": "contacts", "mode": "full",
		"mapping": []map[string]string{{"source": "email", "target": "email"}, {"source": "firstname", "target": "first"}}})
	if r := runSync(e, in, nil); r.Created != 1000 {
		t.Fatalf("inbound %+v", r)
	}
	tbl2 := createTable(e, "email", "first")
	var rows []any
	for i := range 1000 {
		rows = append(rows, map[string]any{"values": map[string]any{"email": fmt.Sprintf("new%d@y.com", i), "first": "N"}})
	}
	e.MustDo(201, "POST", "/tables/"+tbl2+"/rows", map[string]any{"rows": rows}, nil)
	out := createSync(e, map[string]any{"direction": "outbound", "connection_id": conn, "table_id": tbl2, "object": "contacts", "match_key": "email",
		"mapping": []map[string]string{{"source": "email", "target": "email"}, {"source": "first", "target": "firstname"}}})
	if r := runSync(e, out, nil); r.Created != 1000 {
		t.Fatalf("outbound %+v", r)
	}
	var stats struct {
		Calls               int64 `json:"calls"`
		RateLimited         int64 `json:"rate_limited"`
		RequestsBeyondLimit int64 `json:"requests_beyond_limit"`
		OverLimit           int64 `json:"over_limit"`
	}
	resp, err := http.Get(e.URL + "/_fakes/hubspot/_control/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := jsonDecode(resp, &stats); err != nil {
		t.Fatal(err)
	}
	if stats.Calls < 60 || stats.RequestsBeyondLimit != 0 || stats.RateLimited != 0 || stats.OverLimit != 0 {
		t.Fatalf("stats %+v", stats)
	}
}

// TestRealtimeLoop: a lead created at one HubSpot portal arrives in the
// table by webhook and is pushed to another portal, without a click; an
// edit pushed back to its own portal echoes back without another push.
func TestRealtimeLoop(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	e.Control("hubspot", "webhooks", map[string]any{"target_url": e.URL + "/webhooks/hubspot"})
	src := e.ConnectOAuth("hubspot", "acct-src", nil, contactScopes...)
	dst := e.ConnectOAuth("hubspot", "acct-dst", nil, contactScopes...)
	tbl := createTable(e, "email", "first")
	mapIn := []map[string]string{{"source": "email", "target": "email"}, {"source": "firstname", "target": "first"}}
	mapOut := []map[string]string{{"source": "email", "target": "email"}, {"source": "first", "target": "firstname"}}
	in := createSync(e, map[string]any{"direction": "inbound", "connection_id": src, "table_id": tbl, "object": "contacts", "mapping": mapIn, "schedule": "realtime"})
	waitRun(t, e, in, func(r *store.Run) bool { return r.Status == "succeeded" }) // the first (polling) run
	out := createSync(e, map[string]any{"direction": "outbound", "connection_id": dst, "table_id": tbl, "object": "contacts", "match_key": "email",
		"mapping": mapOut, "schedule": "realtime"})
	back := createSync(e, map[string]any{"direction": "outbound", "connection_id": src, "table_id": tbl, "object": "contacts",
		"mapping": mapOut, "schedule": "realtime"})

	fake := hubspotFake(e)
	if _, err := fake.SeedRecords("acct-src", "contacts", []map[string]any{{"email": "lead@new.com", "firstname": "Lea"}}); err != nil {
		t.Fatal(err)
	}
	waitRun(t, e, in, func(r *store.Run) bool { return r.Trigger == "webhook" && r.Created == 1 })
	pushed := waitRun(t, e, out, func(r *store.Run) bool { return r.Created == 1 })
	if pushed.Trigger != "change" && pushed.Trigger != "schedule" {
		t.Fatalf("push trigger %s", pushed.Trigger)
	}
	found := false
	for _, rec := range fake.Records("acct-dst", "contacts") {
		found = found || (rec.Fields["email"] == "lead@new.com" && rec.Fields["firstname"] == "Lea")
	}
	if !found {
		t.Fatalf("the lead did not reach the other portal: %v", fake.Records("acct-dst", "contacts"))
	}
	// The row came from acct-src: pushing it back there has nothing to send.
	waitRun(t, e, back, func(r *store.Run) bool { return r.Status == "succeeded" && r.Unchanged >= 1 })
	if runs, _ := e.Store().ListRuns(context.Background(), app.DefaultWorkspace, back, "", 50); anyWrote(runs) {
		t.Fatal("a row that came from the portal was pushed back to it")
	}

	// An edit is pushed to acct-src; its webhook brings the same values back,
	// which change nothing and push nothing.
	var lead rowJSON
	for _, row := range allRows(e, tbl, "") {
		if row.Values["email"] == "lead@new.com" {
			lead = row
		}
	}
	e.MustDo(200, "PATCH", "/tables/"+tbl+"/rows/"+lead.ID, map[string]any{"values": map[string]any{"first": "Leah"}}, nil)
	edit := waitRun(t, e, back, func(r *store.Run) bool { return r.Updated == 1 })
	echo := waitRun(t, e, in, func(r *store.Run) bool {
		return r.Trigger == "webhook" && r.StartedAt.After(edit.StartedAt) && r.Status != "running"
	})
	if echo.Updated != 0 || echo.Created != 0 {
		t.Fatalf("the echo of our own push changed the table: %+v", echo)
	}
}

func anyWrote(runs []*store.Run) bool {
	for _, r := range runs {
		if r.Created+r.Updated > 0 {
			return true
		}
	}
	return false
}

func TestWebhookEndpointRefusesBadRequests(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	post := func(body string, ts time.Time, sign func(string) string) int {
		t.Helper()
		req, _ := http.NewRequest("POST", e.URL+"/webhooks/hubspot", strings.NewReader(body))
		stamp := fmt.Sprint(ts.UnixMilli())
		req.Header.Set(hubspot.TimestampHeader, stamp)
		req.Header.Set(hubspot.SignatureHeader, sign(stamp))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	good := func(body string) func(string) string {
		return func(ts string) string {
			return hubspot.Sign("patchbay-demo-secret", "POST", e.URL+"/webhooks/hubspot", []byte(body), ts)
		}
	}
	ok := `[{"portalId":1,"subscriptionType":"contact.creation","objectId":5}]`
	cases := []struct {
		name string
		body string
		ts   time.Time
		sign func(string) string
		want int
	}{
		{"signed", ok, time.Now(), good(ok), 204},
		{"wrong secret", ok, time.Now(), func(ts string) string { return hubspot.Sign("nope", "POST", e.URL+"/webhooks/hubspot", []byte(ok), ts) }, 401},
		{"tampered body", ok + " ", time.Now(), good(ok), 401},
		{"stale", ok, time.Now().Add(-6 * time.Minute), good(ok), 401},
		{"malformed", `{"not":"an array"`, time.Now(), good(`{"not":"an array"`), 400},
		{"too large", strings.Repeat(" ", 2<<20), time.Now(), good(""), 413},
	}
	for _, c := range cases {
		if got := post(c.body, c.ts, c.sign); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
}

func TestRateLimitedRunSaysWhenItResumes(t *testing.T) {
	t.Parallel()
	h := &hooked{Connector: hubspot.New()}
	e := hookedEnv(t, h)
	conn := e.ConnectOAuth("hubspot", "acct-rl", nil, contactScopes...)
	before := e.Connection(conn)
	tbl := createTable(e, "email")
	id := createSync(e, map[string]any{"direction": "inbound", "connection_id": conn, "table_id": tbl, "object": "contacts",
		"mapping": []map[string]string{{"source": "email", "target": "email"}}})
	h.listErr = &connector.Error{Class: connector.ClassRateLimited, Status: 429, RetryAfter: 90 * time.Second}
	r := runSync(e, id, nil)
	if r.Status != "rate_limited" || !strings.HasPrefix(r.Error, "rate limited, resumes at ") {
		t.Fatalf("run %+v", r)
	}
	y, _ := e.Store().GetSync(context.Background(), app.DefaultWorkspace, id)
	if until := time.Until(y.NextRunAt); until < 80*time.Second || until > 100*time.Second {
		t.Fatalf("next run in %s, want when the budget opens", until)
	}
	if c := e.Connection(conn); c.Status != before.Status || c.Reason != before.Reason {
		t.Fatalf("a rate limit changed the connection from %s/%s to %s/%s", before.Status, before.Reason, c.Status, c.Reason)
	}
}

func TestAuthFailurePausesUntilReconnect(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	conn := e.ConnectOAuth("hubspot", "acct-auth", nil, contactScopes...)
	seedContacts(t, e, "acct-auth", 5, segmentContact)
	tbl := createTable(e, "email")
	mapping := []map[string]string{{"source": "email", "target": "email"}}
	a := createSync(e, map[string]any{"direction": "inbound", "connection_id": conn, "table_id": tbl, "object": "contacts", "mapping": mapping})
	if r := runSync(e, a, nil); r.Created != 5 {
		t.Fatalf("first run %+v", r)
	}
	tbl2 := createTable(e, "email")
	e.MustDo(201, "POST", "/tables/"+tbl2+"/rows", map[string]any{"rows": []any{map[string]any{"values": map[string]any{"email": "new@x.com"}}}}, nil)
	b := createSync(e, map[string]any{"direction": "outbound", "connection_id": conn, "table_id": tbl2, "object": "contacts", "mapping": mapping})
	e.Control("hubspot", "revoke", map[string]string{"account": "acct-auth"})
	seedContacts(t, e, "acct-auth", 1, func(int) map[string]any { return map[string]any{"email": "later@x.com"} })
	for _, id := range []string{a, b} {
		r := runSync(e, id, nil)
		if r.Status != "failed" || !strings.HasPrefix(r.ErrorClass, "connection:") {
			t.Fatalf("run on a revoked grant: %+v", r)
		}
	}
	c := e.Connection(conn)
	if c.Health != "red" {
		t.Fatalf("connection %s/%s/%s", c.Status, c.Reason, c.Health)
	}
	var evs struct{ Events []struct{ Kind string } }
	e.MustDo(200, "GET", "/events?connection_id="+conn, nil, &evs)
	changes := 0
	for _, ev := range evs.Events {
		// The first failing request's refresh, or the first sync, turns the connection red; nothing after.
		if ev.Kind == "connection.status_changed" || ev.Kind == "connection.refresh_failed" {
			changes++
		}
	}
	if changes != 1 {
		t.Fatalf("%d status changes for two failing syncs, want one: %+v", changes, evs)
	}
	for _, id := range []string{a, b} {
		if st, body := e.Do("POST", "/syncs/"+id+"/run", nil, nil); st != 409 || !strings.Contains(body, "reconnect") {
			t.Fatalf("run while waiting for reconnect: %d %s", st, body)
		}
	}
	var rc struct {
		AuthorizeURL string `json:"authorize_url"`
	}
	e.MustDo(200, "POST", "/connections/"+conn+"/reconnect", nil, &rc)
	if st, body := e.Consent(rc.AuthorizeURL, url.Values{"account": {"acct-auth"}}); st != http.StatusSeeOther {
		t.Fatalf("reconnect %d %s", st, body)
	}
	caught := waitRun(t, e, a, func(r *store.Run) bool { return r.Trigger == "reconnect" && r.Status != "running" })
	// Both syncs catch up; the outbound one may create new@x.com at the provider before the inbound one reads.
	if caught.Status != "succeeded" || caught.Created < 1 {
		t.Fatalf("catch-up run %+v", caught)
	}
	found := false
	for _, row := range allRows(e, tbl, "") {
		found = found || row.Values["email"] == "later@x.com"
	}
	if !found {
		t.Fatal("the catch-up run did not bring the contact created while the connection was broken")
	}
	waitRun(t, e, b, func(r *store.Run) bool { return r.Trigger == "reconnect" && r.Status == "succeeded" && r.Created == 1 })
}
