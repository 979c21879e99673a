package web_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"

	"patchbay/internal/app"
)

// TestBrowserScreenshots writes pictures of the main pages into the folder
// named by PATCHBAY_SCREENSHOTS (docs/screenshots in the repository):
//
//	PATCHBAY_SCREENSHOTS=$PWD/docs/screenshots go test -run Screenshots ./internal/web/
func TestBrowserScreenshots(t *testing.T) {
	dir := os.Getenv("PATCHBAY_SCREENSHOTS")
	if dir == "" {
		t.Skip("set PATCHBAY_SCREENSHOTS to a folder to write the dashboard's screenshots there")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	u := startUI(t, 1280, 900)
	env := u.env
	healthy := env.ConnectOAuth("hubspot", "", nil, "crm.objects.contacts.read", "crm.objects.companies.write")
	env.MustDo(http.StatusOK, "PATCH", "/connections/"+healthy, map[string]string{"notes": "Lead routing: new contacts flow into the Leads table."}, nil)
	broken := env.ConnectOAuth("hubspot", "acct-emea", nil)
	env.Control("hubspot", "revoke", map[string]string{"account": "acct-emea"})
	env.MustDo(http.StatusOK, "POST", "/connections/"+broken+"/test", nil, nil)
	env.MustDo(http.StatusCreated, "POST", "/connections", map[string]any{"provider": "dataprovider",
		"config": map[string]string{"endpoint_url": env.URL + "/_fakes/dataprovider"}, "api_key": app.DemoDataProviderKey}, nil)

	shot := func(name string, full bool) {
		t.Helper()
		ctx, cancel := context.WithTimeout(u.ctx, stepTimeout)
		defer cancel()
		action := chromedp.CaptureScreenshot()
		if full {
			action = chromedp.FullScreenshot(100)
		}
		png, err := chromedp.Run(ctx, action)
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	u.run("integrations", chromedp.Navigate(env.URL+"/"), chromedp.WaitVisible(chromedp.CSS(`#card-hubspot .badge.red`)))
	shot("integrations", true)
	u.run("attention filter", chromedp.Navigate(env.URL+"/?status=attention"), chromedp.WaitVisible(chromedp.CSS(`#cards`)))
	shot("integrations-needs-attention", true)
	u.run("disconnect dialog", chromedp.Navigate(env.URL+"/"), chromedp.WaitVisible(chromedp.CSS(`#card-hubspot`)),
		chromedp.Click(chromedp.CSS(`#card-hubspot section[data-connection="`+healthy+`"] a[data-dialog]`)),
		chromedp.WaitVisible(chromedp.CSS(`dialog[open]`)))
	shot("disconnect-confirmation", false)
	u.run("detail", chromedp.Navigate(env.URL+"/connections/"+healthy), chromedp.WaitVisible(chromedp.CSS(`#scopes-h`)))
	shot("connection-detail", true)
	u.run("detail of the broken one", chromedp.Navigate(env.URL+"/connections/"+broken), chromedp.WaitVisible(chromedp.CSS(`.fix`)))
	shot("connection-detail-revoked", false)
	u.run("api key error", chromedp.Navigate(env.URL+"/integrations/dataprovider/connect"),
		chromedp.SetValue(chromedp.CSS(`input[name="config.endpoint_url"]`), env.URL+"/_fakes/dataprovider"),
		chromedp.SetValue(chromedp.CSS(`input[name="api_key"]`), "wrong-key"),
		chromedp.Click(chromedp.CSS(`form.connect button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-errors]:not([hidden])`)))
	shot("connect-api-key-error", false)

	// A table filled by an inbound sync, enriched by an action column, with
	// an outbound sync to preview.
	dp := ""
	var conns struct {
		Connections []struct{ ID, Provider string }
	}
	env.MustDo(http.StatusOK, "GET", "/connections", nil, &conns)
	for _, c := range conns.Connections {
		if c.Provider == "dataprovider" {
			dp = c.ID
		}
	}
	env.Control("hubspot", "records", map[string]any{"object": "contacts", "records": []map[string]any{
		{"email": "ann.lee@northwind.com", "firstname": "Ann", "lifecyclestage": "lead"},
		{"email": "raj.patel@contoso.com", "firstname": "Raj", "lifecyclestage": "lead"},
		{"email": "mia.wong@fabrikam.com", "firstname": "Mia", "lifecyclestage": "lead"},
		{"email": "tom.berg@initech.com", "firstname": "Tom", "lifecyclestage": "customer"},
	}})
	var tb struct{ ID string }
	env.MustDo(http.StatusCreated, "POST", "/tables", map[string]any{"name": "Leads", "columns": []map[string]string{
		{"name": "email", "type": "text"}, {"name": "firstname", "type": "text"}, {"name": "company", "type": "text"},
		{"name": "jobtitle", "type": "text"}, {"name": "phone", "type": "text"}}}, &tb)
	var in struct{ ID string }
	env.MustDo(http.StatusCreated, "POST", "/syncs", map[string]any{"direction": "inbound", "connection_id": healthy, "table_id": tb.ID,
		"object": "contacts", "filter": `lifecyclestage = "lead"`, "schedule": "manual", "mapping": []map[string]string{
			{"source": "email", "target": "email"}, {"source": "firstname", "target": "firstname"}}}, &in)
	env.MustDo(http.StatusOK, "POST", "/syncs/"+in.ID+"/run", map[string]any{}, nil)
	// Scheduled only after its first run: a schedule starts a run at once, which Sync now would meet.
	env.MustDo(http.StatusOK, "PATCH", "/syncs/"+in.ID, map[string]any{"schedule": "every:30m"}, nil)
	env.MustDo(http.StatusCreated, "POST", "/tables/"+tb.ID+"/rows", map[string]any{"rows": []any{
		map[string]any{"values": map[string]any{"email": "nobody@unknown-domain.invalid", "firstname": "Nobody"}}}}, nil)
	env.MustDo(http.StatusCreated, "POST", "/tables/"+tb.ID+"/columns", map[string]any{"name": "Person", "type": "action", "action": map[string]any{
		"connection_ids": []string{dp}, "lookup": "person_by_email", "inputs": map[string]string{"email": "email"},
		"outputs": map[string]string{"phone": "phone", "title": "jobtitle", "company": "company"}}}, nil)
	env.MustDo(http.StatusCreated, "POST", "/syncs", map[string]any{"direction": "outbound", "connection_id": healthy, "table_id": tb.ID,
		"object": "contacts", "match_key": "email", "mapping": []map[string]string{
			{"source": "email", "target": "email"}, {"source": "jobtitle", "target": "jobtitle"}, {"source": "phone", "target": "phone"}}}, nil)
	// The pictures show settled cells: wait until the page shows none pending.
	page := env.URL + "/tables/" + tb.ID
	u.run("table", chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS(`table.rows`)))
	u.waitJS("cells settle", `fetch(location.href).then(r => r.text()).then(t => !t.includes('data-state="pending"') && t.includes('data-state="done"'))`)
	u.run("tables list", chromedp.Navigate(env.URL+"/tables"), chromedp.WaitVisible(chromedp.CSS(`#new-table-h`)))
	shot("tables", true)
	u.run("table page", chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS(`.sync`)))
	shot("table", true)
	u.run("preview", chromedp.Click(chromedp.CSS(`.sync form[action$="/preview"] button`)), chromedp.WaitVisible(chromedp.CSS(`#plan-summary`)))
	shot("sync-preview", true)
	u.run("sync setup with a bad filter", chromedp.Navigate(page+"/syncs/new?direction=inbound&source="+healthy+":contacts"),
		chromedp.WaitVisible(chromedp.CSS(`#filter`)), chromedp.SendKeys(chromedp.CSS(`#filter`), `lifecyclestage = "lead" and createdate >`),
		chromedp.Click(chromedp.CSS(`form.sync-setup button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS(`#filter[aria-invalid="true"]`)))
	shot("sync-setup-filter-error", true)

	// The pages of editing, deleting, action columns, the bridge, the plan
	// and notifications, wide and at 390 px.
	env.MustDo(http.StatusCreated, "POST", "/notification-routes", map[string]any{"email": "ops@example.com", "events": []string{"connection.red", "sync.failing"}}, nil)
	env.MustDo(http.StatusCreated, "POST", "/tables/"+tb.ID+"/hooks", map[string]any{"match_column": "email", "signed": true}, nil)
	var acs struct {
		ActionColumns []struct{ ID string } `json:"action_columns"`
	}
	env.MustDo(http.StatusOK, "GET", "/tables/"+tb.ID+"/columns", nil, &acs)
	pages := []struct {
		name, path, wait string
		prepare          []chromedp.Action[chromedp.Void]
	}{
		{"sync-edit", "/syncs/" + in.ID + "/edit", `#filter`, nil},
		{"table-delete-confirmation", "/tables/" + tb.ID + "/delete", `form.confirm`, nil},
		{"action-column-new", "/tables/" + tb.ID + "/columns/new?lookup=company_by_domain", `form.action-form`, nil},
		{"action-column-edit", "/tables/" + tb.ID + "/columns/" + acs.ActionColumns[0].ID + "/edit", `form.action-form`, nil},
		{"webhook-bridge", "/tables/" + tb.ID + "/hooks", `#match_column`, []chromedp.Action[chromedp.Void]{
			chromedp.Click(chromedp.CSS(`form.new-hook button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS(`#hook-example`))}},
		{"plan", "/plan", `#tier-premium`, nil},
		{"notifications", "/notifications", `table.routes`, nil},
	}
	for _, narrow := range []bool{false, true} {
		for _, pg := range pages {
			name := pg.name
			if narrow {
				name += "-narrow"
			}
			u.run(name, append([]chromedp.Action[chromedp.Void]{chromedp.Navigate(env.URL + pg.path), chromedp.WaitVisible(chromedp.CSS(pg.wait))}, pg.prepare...)...)
			shot(name, !narrow)
		}
		if !narrow {
			u.run("narrow window", chromedp.EmulateViewport(390, 844))
		}
	}

	u.run("narrow integrations", chromedp.Navigate(env.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#card-hubspot`)))
	shot("integrations-narrow", false)
	u.run("narrow table", chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS(`.sync`)))
	shot("table-narrow", false)
}
