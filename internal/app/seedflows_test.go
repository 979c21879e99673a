package app_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"patchbay/internal/app/apptest"
)

// connectMailchimpKey connects the mailchimp_key entry for a fresh account
// of the fake and returns the connection id and the account's audience.
func connectMailchimpKey(t *testing.T, e *apptest.Env, account string) (conn, list string) {
	t.Helper()
	mc := mailchimpFake(e)
	var out struct {
		Connection apptest.Connection `json:"connection"`
	}
	list = mc.AddAudience(account, "Newsletter")
	e.MustDo(http.StatusCreated, "POST", "/connections", map[string]any{"provider": "mailchimp_key", "api_key": mc.NewAPIKey(account)}, &out)
	return out.Connection.ID, list
}

// TestMailchimpOutboundUpdatesExistingMembers pulls members in, edits them
// and pushes them back: the updates must reach Mailchimp though the e-mail
// (unchanged) is not sent, a new member counts as created, and the dry run
// announces what the run then does. Both the direct calls (few rows) and the
// batch operations (more than ten) are tried.
func TestMailchimpOutboundUpdatesExistingMembers(t *testing.T) {
	t.Parallel()
	for _, n := range []int{2, 14} {
		t.Run(fmt.Sprint(n, " members"), func(t *testing.T) {
			t.Parallel()
			e := apptest.Start(t, apptest.Options{})
			mc := mailchimpFake(e)
			account := fmt.Sprintf("acct-mc-%d", n)
			conn, list := connectMailchimpKey(t, e, account)
			members := make([]map[string]any, n)
			for i := range members {
				members[i] = map[string]any{"email_address": fmt.Sprintf("m%02d@x.com", i), "status": "subscribed", "FNAME": "Old"}
			}
			mc.SeedMembers(account, list, members)
			tbl := createTable(e, "email", "first")
			mapping := []map[string]string{{"source": "email", "target": "email_address"}, {"source": "first", "target": "FNAME"}}
			inMapping := []map[string]string{{"source": "email_address", "target": "email"}, {"source": "FNAME", "target": "first"}}
			in := createSync(e, map[string]any{"direction": "inbound", "connection_id": conn, "table_id": tbl, "object": "members", "mapping": inMapping})
			if r := runSync(e, in, nil); r.Status != "succeeded" || r.Created != n {
				t.Fatalf("inbound %+v", r)
			}
			for _, row := range allRows(e, tbl, "") {
				e.MustDo(http.StatusOK, "PATCH", "/tables/"+tbl+"/rows/"+row.ID, map[string]any{"values": map[string]any{"first": "New"}}, nil)
			}
			e.MustDo(http.StatusCreated, "POST", "/tables/"+tbl+"/rows", map[string]any{"rows": []any{
				map[string]any{"values": map[string]any{"email": "fresh@x.com", "first": "Fresh"}},
			}}, nil)
			out := createSync(e, map[string]any{"direction": "outbound", "connection_id": conn, "table_id": tbl, "object": "members",
				"match_key": "email_address", "mapping": mapping})
			dry := runSync(e, out, map[string]any{"dry_run": true})
			if dry.Updated != n || dry.Created != 1 || dry.Failed != 0 {
				t.Fatalf("dry run %+v", dry)
			}
			r := runSync(e, out, nil)
			if r.Status != "succeeded" || r.Updated != dry.Updated || r.Created != dry.Created || r.Failed != 0 {
				t.Fatalf("push %+v, after the dry run %+v", r, dry)
			}
			var held []map[string]any
			for _, m := range mc.Members(account, list) {
				held = append(held, map[string]any{"email": m.Fields["email_address"], "first": m.Fields["FNAME"]})
				if want := map[bool]string{true: "Fresh", false: "New"}[m.Fields["email_address"] == "fresh@x.com"]; m.Fields["FNAME"] != want {
					t.Errorf("Mailchimp holds %s with FNAME %q, want %q", m.Fields["email_address"], m.Fields["FNAME"], want)
				}
			}
			if len(held) != n+1 {
				t.Fatalf("Mailchimp holds %d members, want %d: %v", len(held), n+1, held)
			}
			if r := runSync(e, out, nil); r.Unchanged != n+1 || r.Created+r.Updated+r.Failed != 0 {
				t.Fatalf("second push %+v", r)
			}
		})
	}
}

// TestPatchSyncSavesOrRefuses moves a sync to another connection of the
// same provider (history kept, the next run reads the new account) and
// refuses, with 422, the edits it cannot make: another provider, another
// table, a schedule beyond reason.
func TestPatchSyncSavesOrRefuses(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	a := e.ConnectOAuth("hubspot", "acct-move-a", nil, contactScopes...)
	b := e.ConnectOAuth("hubspot", "acct-move-b", nil, contactScopes...)
	seedContacts(t, e, "acct-move-a", 1, func(int) map[string]any { return map[string]any{"email": "a@x.com"} })
	seedContacts(t, e, "acct-move-b", 2, func(i int) map[string]any { return map[string]any{"email": fmt.Sprintf("b%d@x.com", i)} })
	mcConn, _ := connectMailchimpKey(t, e, "acct-move-mc")
	tbl := createTable(e, "email")
	id := createSync(e, map[string]any{"direction": "inbound", "connection_id": a, "table_id": tbl, "object": "contacts",
		"mapping": []map[string]string{{"source": "email", "target": "email"}}})
	if r := runSync(e, id, nil); r.Created != 1 {
		t.Fatalf("first run %+v", r)
	}
	var y struct {
		ConnectionID string `json:"connection_id"`
		TableID      string `json:"table_id"`
		Schedule     string `json:"schedule"`
	}
	e.MustDo(http.StatusOK, "PATCH", "/syncs/"+id, map[string]any{"connection_id": b}, &y)
	if y.ConnectionID != b {
		t.Fatalf("PATCH answered connection %s, want %s", y.ConnectionID, b)
	}
	e.MustDo(http.StatusOK, "GET", "/syncs/"+id, nil, &y)
	if y.ConnectionID != b {
		t.Fatalf("the move was not saved: connection %s, want %s", y.ConnectionID, b)
	}
	if r := runSync(e, id, nil); r.Read != 2 || r.Created != 2 {
		t.Fatalf("run after the move %+v (want the two contacts of the new portal)", r)
	}
	var runs struct {
		Runs []runJSON `json:"runs"`
	}
	e.MustDo(http.StatusOK, "GET", "/syncs/"+id+"/runs", nil, &runs)
	if len(runs.Runs) != 2 {
		t.Fatalf("history after the move has %d runs, want 2", len(runs.Runs))
	}
	other := createTable(e, "email")
	for _, c := range []struct {
		name, field string
		body        map[string]any
	}{
		{"another provider", "connection_id", map[string]any{"connection_id": mcConn}},
		{"unknown connection", "connection_id", map[string]any{"connection_id": "con_nope"}},
		{"another table", "table_id", map[string]any{"table_id": other}},
		{"schedule beyond reason", "schedule", map[string]any{"schedule": "every:99999999m"}},
	} {
		st, body := e.Do("PATCH", "/syncs/"+id, c.body, nil)
		if st != http.StatusUnprocessableEntity || !strings.Contains(body, `"field":"`+c.field+`"`) {
			t.Errorf("%s: %d %s, want 422 naming %s", c.name, st, body, c.field)
		}
	}
	e.MustDo(http.StatusOK, "GET", "/syncs/"+id, nil, &y)
	if y.ConnectionID != b || y.TableID != tbl || y.Schedule != "manual" {
		t.Fatalf("a refused PATCH changed the sync: %+v", y)
	}
	if st, body := e.Do("POST", "/syncs", map[string]any{"direction": "inbound", "connection_id": a, "table_id": tbl, "object": "contacts",
		"schedule": "every:99999999m", "mapping": []map[string]string{{"source": "email", "target": "email"}}}, nil); st != http.StatusUnprocessableEntity {
		t.Errorf("create with every:99999999m: %d %s", st, body)
	}
}

// TestBridgeUpsertMatchesAnyRow posts to a hook matching by email a record
// whose e-mail a row pulled in by a sync already holds: that row is updated,
// no twin is made.
func TestBridgeUpsertMatchesAnyRow(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	conn := e.ConnectOAuth("hubspot", "acct-bridge", nil, contactScopes...)
	seedContacts(t, e, "acct-bridge", 1, func(int) map[string]any { return map[string]any{"email": "ann@x.com", "firstname": "Ann"} })
	tbl := createTable(e, "email", "first", "phone")
	in := createSync(e, map[string]any{"direction": "inbound", "connection_id": conn, "table_id": tbl, "object": "contacts",
		"mapping": []map[string]string{{"source": "email", "target": "email"}, {"source": "firstname", "target": "first"}}})
	if r := runSync(e, in, nil); r.Created != 1 {
		t.Fatalf("inbound %+v", r)
	}
	var hook struct {
		URL string `json:"url"`
	}
	e.MustDo(http.StatusCreated, "POST", "/tables/"+tbl+"/hooks", map[string]any{"match_column": "email"}, &hook)
	resp, err := e.HTTP.Post(hook.URL, "application/json", strings.NewReader(`{"email":"ann@x.com","phone":"+1 555 0100"}`))
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Created int `json:"created"`
		Updated int `json:"updated"`
	}
	err = jsonDecode(resp, &res)
	resp.Body.Close()
	if err != nil || resp.StatusCode >= 300 || res.Created != 0 || res.Updated != 1 {
		t.Fatalf("hook post: %d %+v %v", resp.StatusCode, res, err)
	}
	rows := allRows(e, tbl, "")
	if len(rows) != 1 || rows[0].Values["phone"] != "+1 555 0100" || rows[0].Values["first"] != "Ann" {
		t.Fatalf("rows after the hook: %+v", rows)
	}
}

// TestShopifyStoreURLIsNormalised connects a store given as the address
// bar shows it: the URL is reduced to the store's domain, not refused.
func TestShopifyStoreURLIsNormalised(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	premium(e)
	var out struct {
		Connection struct {
			Config map[string]string `json:"config"`
		} `json:"connection"`
		AuthorizeURL string `json:"authorize_url"`
	}
	e.MustDo(http.StatusCreated, "POST", "/connections", map[string]any{"provider": "shopify", "config": map[string]string{"shop": " https://Acme.myshopify.com/admin "}}, &out)
	if out.Connection.Config["shop"] != store1 || out.AuthorizeURL == "" {
		t.Fatalf("shop stored as %q, authorize URL %q", out.Connection.Config["shop"], out.AuthorizeURL)
	}
}
