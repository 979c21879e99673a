package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserEditAndDelete is the story of a sync saved without a filter:
// it filled the table with the wrong rows. In chromium the user edits the
// sync's filter (a bad one is refused in the form), the next Sync now reads
// only what matches, the wrong rows are ticked and deleted, then the sync,
// the table and the disconnected connection are removed, each after a
// confirmation that says what goes.
func TestBrowserEditAndDelete(t *testing.T) {
	u := startUI(t, 1280, 900)
	env := u.env
	conn := env.ConnectOAuth("hubspot", "", nil, "crm.objects.contacts.read")
	seedContacts(env, 3)
	var tb struct{ ID string }
	env.MustDo(http.StatusCreated, "POST", "/tables", map[string]any{"name": "Enterprise Leads", "columns": []map[string]string{
		{"name": "email", "type": "text"}, {"name": "firstname", "type": "text"}}}, &tb)
	var y struct{ ID string }
	env.MustDo(http.StatusCreated, "POST", "/syncs", map[string]any{"direction": "inbound", "connection_id": conn, "table_id": tb.ID,
		"object": "contacts", "mapping": []map[string]string{{"source": "email", "target": "email"}, {"source": "firstname", "target": "firstname"}}}, &y)
	env.MustDo(http.StatusOK, "POST", "/syncs/"+y.ID+"/run", map[string]any{}, nil)
	page := env.URL + "/tables/" + tb.ID

	u.run("open the edit form", chromedp.Navigate(page), chromedp.Click(chromedp.CSS(`.sync a[data-edit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#filter`)))
	u.waitJS("the form shows the sync as saved", `document.getElementById("map-0").value === "email" && document.getElementById("filter").value === ""`)
	u.run("a bad filter is refused", chromedp.SendKeys(chromedp.CSS(`#filter`), `firstname =`),
		chromedp.Click(chromedp.CSS(`form.sync-setup button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS(`#filter[aria-invalid="true"]`)))
	if got := u.text(`#setup-errors`); !strings.Contains(got, "The changes were not saved") {
		t.Errorf("refusal: %q", got)
	}
	u.run("save the right filter", chromedp.SetValue(chromedp.CSS(`#filter`), `firstname = "P1"`),
		chromedp.Click(chromedp.CSS(`form.sync-setup button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS(`.notice`)))
	if got := u.text(`.sync dl`); !strings.Contains(got, `firstname = "P1"`) {
		t.Errorf("the sync panel does not show the new filter: %q", got)
	}
	u.run("sync now", chromedp.Click(chromedp.CSS(`.sync form[action$="/run"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`.sync table.runs tbody tr:nth-child(2)[data-trigger="manual"]`)))
	if got := u.text(`.sync tbody tr:first-child td:nth-of-type(4)`); got != "1" {
		t.Errorf("the run after the edit read %q records, want only the 1 that matches the new filter", got)
	}

	// The rows the filter would have kept out go.
	u.run("tick the wrong rows", chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS(`table.rows`)))
	u.waitJS("tick P0 and P2", `(() => { let n = 0; for (const tr of document.querySelectorAll("table.rows tbody tr")) {
		if (!tr.textContent.includes("p01@acme.test")) { tr.querySelector('input[type="checkbox"]').click(); n++ } } return n === 2 })()`)
	u.run("delete them", chromedp.Click(chromedp.CSS(`#rows-form button`)), chromedp.WaitVisible(chromedp.CSS(`form.confirm`)))
	if got := u.text(`h1`); got != "Delete 2 rows of Enterprise Leads?" {
		t.Errorf("confirmation title %q", got)
	}
	u.run("confirm", chromedp.Click(chromedp.CSS(`form.confirm button.danger`)), chromedp.WaitVisible(chromedp.CSS(`.notice`)))
	if got := u.text(`table.rows tbody`); strings.Contains(got, "p00@") || strings.Contains(got, "p02@") || !strings.Contains(got, "p01@acme.test") {
		t.Errorf("rows after deleting: %q", got)
	}

	u.run("delete the sync", chromedp.Click(chromedp.CSS(`.sync a[data-delete]`)), chromedp.WaitVisible(chromedp.CSS(`form.confirm`)))
	if got := u.text(`main`); !strings.Contains(got, "HubSpot contacts → Enterprise Leads") || !strings.Contains(got, "its run history") {
		t.Errorf("sync confirmation: %q", got)
	}
	u.run("confirm the sync's deletion", chromedp.Click(chromedp.CSS(`form.confirm button.danger`)), chromedp.WaitVisible(chromedp.CSS(`.notice`)))
	if got := u.text(`#syncs-h + *`); !strings.Contains(got, "No sync uses this table yet.") {
		t.Errorf("syncs after deleting: %q", got)
	}

	u.run("delete the table", chromedp.Click(chromedp.CSS(`a[data-delete-table]`)), chromedp.WaitVisible(chromedp.CSS(`form.confirm`)))
	if got := u.text(`ul.goes`); !strings.Contains(got, "1 row") {
		t.Errorf("table confirmation: %q", got)
	}
	u.run("confirm the table's deletion", chromedp.Click(chromedp.CSS(`form.confirm button.danger`)), chromedp.WaitVisible(chromedp.CSS(`#new-table-h`)))
	if got := u.text(`main`); strings.Contains(got, "Enterprise Leads") || !strings.Contains(got, "Table deleted") {
		t.Errorf("tables after deleting: %q", got)
	}

	env.MustDo(http.StatusOK, "POST", "/connections/"+conn+"/disconnect", nil, nil)
	u.run("remove the connection", chromedp.Navigate(env.URL+"/connections/"+conn), chromedp.Click(chromedp.CSS(`a[data-remove]`)),
		chromedp.WaitVisible(chromedp.CSS(`form.confirm`)), chromedp.Click(chromedp.CSS(`form.confirm button.danger`)),
		chromedp.WaitVisible(chromedp.CSS(`#card-hubspot`)))
	if st, _ := env.Do("GET", "/connections/"+conn, nil, nil); st != http.StatusNotFound {
		t.Errorf("connection after removing: %d", st)
	}
}
