package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"patchbay/internal/app"
)

// TestBrowserActionColumn creates an action column from the table page in
// chromium (lookup, provider, input, outputs), sees its cells fill in
// without a reload and its found / not found bar, reruns the failed cells,
// edits it and deletes it.
func TestBrowserActionColumn(t *testing.T) {
	u := startUI(t, 1280, 900)
	env := u.env
	env.MustDo(http.StatusCreated, "POST", "/connections", map[string]any{"provider": "dataprovider",
		"config": map[string]string{"endpoint_url": env.URL + "/_fakes/dataprovider"}, "api_key": app.DemoDataProviderKey}, nil)
	var tb struct{ ID string }
	env.MustDo(http.StatusCreated, "POST", "/tables", map[string]any{"name": "Leads", "columns": []map[string]string{
		{"name": "email", "type": "text"}, {"name": "company", "type": "text"}}}, &tb)
	env.MustDo(http.StatusCreated, "POST", "/tables/"+tb.ID+"/rows", map[string]any{"rows": []any{
		map[string]any{"values": map[string]any{"email": "ann.lee@northwind.com"}},
		map[string]any{"values": map[string]any{"email": "raj.patel@contoso.com"}},
		map[string]any{"values": map[string]any{"email": "nobody@unknown-domain.invalid"}}}}, nil)
	page := env.URL + "/tables/" + tb.ID

	u.run("choose the lookup", chromedp.Navigate(page), chromedp.Click(chromedp.CSS(`a[data-add-action]`)),
		chromedp.WaitVisible(chromedp.CSS(`#lookup`)), chromedp.SetValue(chromedp.CSS(`#lookup`), "person_by_email"),
		chromedp.Click(chromedp.CSS(`form.setup-step button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS(`form.action-form`)))
	u.waitJS("the provider and the input are preselected", `document.getElementById("prov-0").value !== "" && document.getElementById("in-0").value === "email"`)
	u.run("add it without outputs", chromedp.SetValue(chromedp.CSS(`#ac-name`), "Person"),
		chromedp.Click(chromedp.CSS(`form.action-form button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS(`#action-errors`)))
	u.run("name the outputs and add it",
		chromedp.SetValue(chromedp.CSS(`input[name="output.title"]`), "jobtitle"),
		chromedp.SetValue(chromedp.CSS(`input[name="output.company"]`), "company"),
		chromedp.Click(chromedp.CSS(`form.action-form button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS(`article.action`)))
	u.waitJS("the cells fill in without a reload", `document.querySelectorAll('table.rows [data-state="done"]').length === 2 &&
		document.querySelectorAll('table.rows [data-state="not_found"]').length === 1`)
	u.waitJS("the bar counts them", `document.querySelector('article.action [data-count="done"]').textContent.startsWith("2 ") &&
		document.querySelector('article.action svg.state-bar rect.done') !== null`)
	if got := u.text(`table.rows tbody`); !strings.Contains(got, "Northwind") {
		t.Errorf("the lookup's company is not in the rows: %q", got)
	}

	u.run("rerun the empty ones", chromedp.Navigate(page), chromedp.Click(chromedp.CSS(`article.action button[data-rerun="empty"]`)), chromedp.WaitVisible(chromedp.CSS(`.notice`)))
	u.run("edit: only rows without a company", chromedp.Click(chromedp.CSS(`article.action a[data-edit-action]`)),
		chromedp.WaitVisible(chromedp.CSS(`form.action-form`)), chromedp.SetValue(chromedp.CSS(`#run-empty`), "jobtitle"),
		chromedp.Click(chromedp.CSS(`form.action-form button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS(`article.action`)))
	if got := u.text(`article.action dl`); !strings.Contains(got, "where jobtitle is empty") {
		t.Errorf("the edited run condition is not shown: %q", got)
	}
	u.run("delete it", chromedp.Click(chromedp.CSS(`article.action a[data-delete-action]`)), chromedp.WaitVisible(chromedp.CSS(`form.confirm`)),
		chromedp.Click(chromedp.CSS(`form.confirm button.danger`)), chromedp.WaitVisible(chromedp.CSS(`.notice`)))
	if got := u.text(`#actions-h + p + p`); !strings.Contains(got, "No action column yet.") {
		t.Errorf("after deleting: %q", got)
	}
}
