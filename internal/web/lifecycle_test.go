package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"patchbay/internal/app/apptest"
)

// TestRemovingAConnectionInUseNamesItsSyncs: removing a disconnected
// connection that a sync still uses is refused on the confirmation page, in
// words that name the sync and its table; an edited sync keeps its checks.
func TestRemovingAConnectionInUseNamesItsSyncs(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, apptest.Options{})
	b := newBrowser(t, env)
	csrf := b.login()
	conn := env.ConnectOAuth("hubspot", "", nil)
	var tb struct{ ID string }
	env.MustDo(http.StatusCreated, "POST", "/tables", map[string]any{"name": "Leads", "columns": []map[string]string{{"name": "email", "type": "text"}}}, &tb)
	var y struct{ ID string }
	env.MustDo(http.StatusCreated, "POST", "/syncs", map[string]any{"direction": "inbound", "connection_id": conn, "table_id": tb.ID,
		"object": "contacts", "mapping": []map[string]string{{"source": "email", "target": "email"}}}, &y)

	p := b.get("/connections/" + conn)
	if p.status != http.StatusOK || strings.Contains(p.body, "/remove") {
		t.Errorf("a connected connection offers removal")
	}
	env.MustDo(http.StatusOK, "POST", "/connections/"+conn+"/disconnect", nil, nil)
	contains(t, "detail of a disconnected connection", b.get("/connections/"+conn).body, `href="/connections/`+conn+`/remove"`,
		`<figure class="timeline">`, `class="h-green"`, `class="h-grey"`, "disconnected from")
	p = b.post("/connections/"+conn+"/remove", url.Values{"csrf_token": {csrf}}, nil)
	if p.status != http.StatusConflict {
		t.Fatalf("remove while in use: %d", p.status)
	}
	contains(t, "refusal", p.body, "Still in use", "the inbound contacts sync of table &#34;Leads&#34;")

	// The edit form: a test batch that is no number, and a mapping to nothing, are refused next to their fields.
	form := url.Values{"csrf_token": {csrf}, "sent": {"1"}, "map.email": {"nosuchfield"}, "mode": {"incremental"}, "schedule_kind": {"manual"}, "max_records": {"ten"}}
	p = b.post("/syncs/"+y.ID+"/edit", form, nil)
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("edit with a bad batch: %d", p.status)
	}
	contains(t, "edit refused", p.body, "The changes were not saved.", "Records per run: a whole number", `action="/syncs/`+y.ID+`/edit"`)
	form.Set("max_records", "10")
	p = b.post("/syncs/"+y.ID+"/edit", form, nil)
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("edit with a bad mapping: %d", p.status)
	}
	contains(t, "edit refused", p.body, `id="map-0" name="map.email"`, `aria-invalid="true"`)
	form.Set("map.email", "email")
	if p = b.post("/syncs/"+y.ID+"/edit", form, nil); p.status != http.StatusSeeOther {
		t.Fatalf("edit: %d %.300s", p.status, p.body)
	}
	var got struct {
		MaxRecords int `json:"max_records"`
	}
	env.MustDo(http.StatusOK, "GET", "/syncs/"+y.ID, nil, &got)
	if got.MaxRecords != 10 {
		t.Errorf("max records after the edit: %d", got.MaxRecords)
	}
}

// TestOutboundEditIsPreviewedBeforeSaving: saving a changed outbound sync
// first shows the dry run of the unsaved settings; only "Save changes" saves.
func TestOutboundEditIsPreviewedBeforeSaving(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, apptest.Options{})
	b := newBrowser(t, env)
	csrf := b.login()
	conn := env.ConnectOAuth("hubspot", "", nil, "crm.objects.contacts.read", "crm.objects.contacts.write")
	var tb struct{ ID string }
	env.MustDo(http.StatusCreated, "POST", "/tables", map[string]any{"name": "Leads", "columns": []map[string]string{
		{"name": "email", "type": "text"}, {"name": "firstname", "type": "text"}}}, &tb)
	env.MustDo(http.StatusCreated, "POST", "/tables/"+tb.ID+"/rows", map[string]any{"rows": []any{
		map[string]any{"values": map[string]any{"email": "ann@acme.test", "firstname": "Ann"}}}}, nil)
	var y struct{ ID string }
	env.MustDo(http.StatusCreated, "POST", "/syncs", map[string]any{"direction": "outbound", "connection_id": conn, "table_id": tb.ID,
		"object": "contacts", "match_key": "email", "mapping": []map[string]string{{"source": "email", "target": "email"}}}, &y)

	form := url.Values{"csrf_token": {csrf}, "sent": {"1"}, "map.email": {"email"}, "map.firstname": {"firstname"}, "match_key": {"email"}, "schedule_kind": {"manual"}}
	p := b.post("/syncs/"+y.ID+"/edit", form, nil)
	if p.status != http.StatusOK {
		t.Fatalf("outbound edit: %d %.300s", p.status, p.body)
	}
	contains(t, "preview of the change", p.body, "A dry run of your changes, not saved yet", `<span data-match>ann@acme.test</span>`,
		"<code>firstname</code> → Ann", `name="confirmed" value="1"`, "Save changes")
	var saved struct {
		Mapping []struct{ Source string } `json:"mapping"`
	}
	env.MustDo(http.StatusOK, "GET", "/syncs/"+y.ID, nil, &saved)
	if len(saved.Mapping) != 1 {
		t.Fatalf("the preview saved the change: %+v", saved)
	}
	form.Set("confirmed", "1")
	if p = b.post("/syncs/"+y.ID+"/edit", form, nil); p.status != http.StatusSeeOther {
		t.Fatalf("save after the preview: %d %.300s", p.status, p.body)
	}
	env.MustDo(http.StatusOK, "GET", "/syncs/"+y.ID, nil, &saved)
	if len(saved.Mapping) != 2 {
		t.Errorf("mapping after saving: %+v", saved)
	}
}
