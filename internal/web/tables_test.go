package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"patchbay/internal/app/apptest"
)

// seedContacts puts n contacts into the HubSpot fake's default account.
func seedContacts(env *apptest.Env, n int) {
	recs := make([]map[string]any, n)
	for i := range recs {
		recs[i] = map[string]any{"email": fmt.Sprintf("p%02d@acme.test", i), "firstname": fmt.Sprint("P", i), "lifecyclestage": "lead"}
	}
	env.Control("hubspot", "records", map[string]any{"object": "contacts", "records": recs})
}

// tableID reads the table id from a redirect to its page.
func tableID(t *testing.T, p page) string {
	t.Helper()
	id, ok := strings.CutPrefix(p.location, "/tables/")
	if p.status != http.StatusSeeOther || !ok {
		t.Fatalf("want a redirect to the table's page, got %d %q %.300s", p.status, p.location, p.body)
	}
	id, _, _ = strings.Cut(id, "?")
	return id
}

// TestTablesWithoutJavaScript creates a table, adds rows (a wrong value is
// refused next to its field), pages through the rows, sets up an inbound sync
// (a bad filter is refused with its position), runs it, sees the run in the
// history, previews an outbound sync and pauses and resumes a sync: all
// through plain form posts.
func TestTablesWithoutJavaScript(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, apptest.Options{})
	b := newBrowser(t, env)
	csrf := b.login()

	contains(t, "empty tables page", b.get("/tables").body, "No table yet", `name="column_name"`, `<option value="number">Number</option>`)

	p := b.post("/tables", url.Values{"csrf_token": {csrf}, "name": {"Leads"}, "column_name": {"email", "", "score"}, "column_type": {"text", "text", "money"}}, nil)
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("unknown column type: %d", p.status)
	}
	contains(t, "create form with a bad type", p.body, `id="col-err-1"`, `money`, `value="score"`)

	p = b.post("/tables", url.Values{"csrf_token": {csrf}, "name": {"Leads"},
		"column_name": {"email", "firstname", "score", ""}, "column_type": {"text", "text", "number", "text"}}, nil)
	tbl := tableID(t, p)
	contains(t, "new table", b.get(p.location).body, "Table created", "No rows yet", `name="value.score"`, "No sync uses this table yet.")
	contains(t, "tables list", b.get("/tables").body, `href="/tables/`+tbl+`">Leads</a>`, "score <span class=\"help\">(number)</span>")

	p = b.post("/tables/"+tbl+"/rows", url.Values{"csrf_token": {csrf}, "value.email": {"a@x.test"}, "value.score": {"lots"}}, nil)
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("bad number: %d", p.status)
	}
	contains(t, "row form with a bad number", p.body, `id="val-score-err">must be a number`, `value="a@x.test"`)
	p = b.post("/tables/"+tbl+"/rows", url.Values{"csrf_token": {csrf}, "value.email": {"a@x.test"}, "value.score": {"4.5"}}, nil)
	if p.status != http.StatusSeeOther {
		t.Fatalf("add row: %d %.300s", p.status, p.body)
	}
	contains(t, "table with a row", b.get(p.location).body, "Row added.", "<td>a@x.test</td>", "<td>4.5</td>", "added here")

	// Sync setup: step one lists the connection's objects, step two the fields.
	conn := env.ConnectOAuth("hubspot", "", nil, "crm.objects.contacts.read", "crm.objects.contacts.write")
	seedContacts(env, 55)
	p = b.get("/tables/" + tbl + "/syncs/new")
	contains(t, "setup step one", p.body, `value="`+conn+`:contacts"`, `value="`+conn+`:companies"`, "Continue")
	if strings.Contains(p.body, `name="filter"`) {
		t.Error("step one should not ask for the filter yet")
	}
	p = b.get("/tables/" + tbl + "/syncs/new?direction=inbound&source=" + url.QueryEscape(conn+":contacts"))
	contains(t, "setup step two", p.body, `name="filter"`, `<option value="firstname" selected>firstname</option>`,
		`<option value="email" selected>email</option>`, `<option value="lifecyclestage">lifecyclestage</option>`, `name="schedule_kind"`)

	form := url.Values{"csrf_token": {csrf}, "sent": {"1"}, "direction": {"inbound"}, "source": {conn + ":contacts"},
		"filter": {`lifecyclestage = `}, "mode": {"incremental"}, "map.email": {"email"}, "map.firstname": {"firstname"}, "map.score": {"phone"},
		"schedule_kind": {"manual"}}
	p = b.post("/tables/"+tbl+"/syncs", form, nil)
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("bad filter: %d %.300s", p.status, p.body)
	}
	contains(t, "setup with a bad filter", p.body, `data-field="filter">position 18:`, `class="caret"`, "The sync was not saved.",
		`value="lifecyclestage = "`, `aria-invalid="true" autofocus`)

	form.Set("filter", `lifecyclestage = "lead"`)
	form.Set("map.score", "")
	p = b.post("/tables/"+tbl+"/syncs", form, nil)
	if p.status != http.StatusSeeOther || !strings.HasSuffix(p.location, "?notice=sync_created") {
		t.Fatalf("save sync: %d %q %.500s", p.status, p.location, p.body)
	}
	p = b.get(p.location)
	contains(t, "table with a sync", p.body, "Sync saved.", "HubSpot contacts → this table", `<code>lifecyclestage = &#34;lead&#34;</code>`,
		"Manual (Sync now only)", "No run yet.", ">Active</span>")
	var ys struct {
		Syncs []struct{ ID string }
	}
	env.MustDo(http.StatusOK, "GET", "/tables/"+tbl+"/syncs", nil, &ys)
	sync := ys.Syncs[0].ID

	p = b.post("/syncs/"+sync+"/run", url.Values{"csrf_token": {csrf}, "return": {"/tables/" + tbl}}, nil)
	if p.status != http.StatusSeeOther || p.location != "/tables/"+tbl+"?notice=sync_started" {
		t.Fatalf("sync now: %d %q", p.status, p.location)
	}
	p = b.get(p.location)
	contains(t, "table after Sync now", p.body, `data-trigger="manual" data-status="succeeded"`, "<td>55</td>", "<td>p00@acme.test</td>", `rel="next"`)

	// Paging: 56 rows, 50 a page.
	next := strings.Split(strings.Split(p.body, `?cursor=`)[1], `"`)[0]
	p = b.get("/tables/" + tbl + "?cursor=" + next)
	if n := strings.Count(p.body, "<tr data-row="); n != 6 {
		t.Errorf("second page: %d rows, want 6", n)
	}
	contains(t, "second page", p.body, "First page")

	// Pause and resume as the user.
	b.post("/syncs/"+sync+"/pause", url.Values{"csrf_token": {csrf}, "return": {"/tables/" + tbl}}, nil)
	contains(t, "paused sync", b.get("/tables/"+tbl).body, ">Paused</span>", "/syncs/"+sync+"/resume")
	b.post("/syncs/"+sync+"/resume", url.Values{"csrf_token": {csrf}, "return": {"/tables/" + tbl}}, nil)
	contains(t, "resumed sync", b.get("/tables/"+tbl).body, ">Active</span>", "/syncs/"+sync+"/pause")

	// An outbound sync: its pickers go the other way; the dry run shows the plan.
	p = b.get("/tables/" + tbl + "/syncs/new?direction=outbound&source=" + url.QueryEscape(conn+":contacts"))
	contains(t, "outbound setup", p.body, `name="match_key"`, `<option value="email">email</option>`)
	if strings.Contains(p.body, `name="filter"`) {
		t.Error("outbound setup should not offer a filter")
	}
	p = b.post("/tables/"+tbl+"/syncs", url.Values{"csrf_token": {csrf}, "sent": {"1"}, "direction": {"outbound"}, "source": {conn + ":contacts"},
		"map.email": {"email"}, "map.firstname": {"firstname"}, "match_key": {"email"}, "schedule_kind": {"manual"}}, nil)
	if p.status != http.StatusSeeOther {
		t.Fatalf("save outbound: %d %.500s", p.status, p.body)
	}
	env.MustDo(http.StatusOK, "GET", "/tables/"+tbl+"/syncs", nil, &ys)
	out := ys.Syncs[0].ID
	if out == sync {
		out = ys.Syncs[1].ID
	}
	contains(t, "table with an outbound sync", b.get("/tables/"+tbl).body, "This table → HubSpot contacts", "/syncs/"+out+"/preview")
	p = b.post("/syncs/"+out+"/preview", url.Values{"csrf_token": {csrf}, "return": {"/tables/" + tbl}}, nil)
	if p.status != http.StatusOK {
		t.Fatalf("preview: %d %.300s", p.status, p.body)
	}
	contains(t, "dry run", p.body, "Nothing was sent to the provider", `data-action="create"`, "1 record to create", "new, or the one with the same email",
		"<code>email</code> → a@x.test", `<span data-match>a@x.test</span>`, ">Create</span>")
}
