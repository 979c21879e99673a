package web_test

import (
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserWebhookBridge makes a signed URL on a table's bridge page in
// chromium, runs the page's example request as shown (bash, openssl, curl)
// and sees the row arrive; then revokes the URL and sees the sender refused.
func TestBrowserWebhookBridge(t *testing.T) {
	u := startUI(t, 1280, 900)
	env := u.env
	for _, tool := range []string{"bash", "openssl", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the example request needs %s", tool)
		}
	}
	var tb struct{ ID string }
	env.MustDo(http.StatusCreated, "POST", "/tables", map[string]any{"name": "Signups", "columns": []map[string]string{
		{"name": "email", "type": "text"}, {"name": "plan", "type": "text"}}}, &tb)

	u.run("make a signed URL", chromedp.Navigate(env.URL+"/tables/"+tb.ID), chromedp.Click(chromedp.CSS(`a[data-bridge]`)),
		chromedp.WaitVisible(chromedp.CSS(`#match_column`)), chromedp.SetValue(chromedp.CSS(`#match_column`), "email"),
		chromedp.Click(chromedp.CSS(`form.new-hook button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS(`#hook-example`)))
	if got := u.text(`#hook-secret`); len(got) < 16 {
		t.Fatalf("signing secret shown: %q", got)
	}
	example := u.text(`#hook-example`)
	out, err := exec.Command("bash", "-c", "set -e\n"+example+" --fail-with-body -sS").CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"created":1`) {
		t.Fatalf("the example request: %v: %s\n%s", err, out, example)
	}
	u.run("the row is in the table", chromedp.Navigate(env.URL+"/tables/"+tb.ID), chromedp.WaitVisible(chromedp.CSS(`table.rows`)))
	if got := u.text(`table.rows tbody`); !strings.Contains(got, "ann@example.com") {
		t.Errorf("rows after the example request: %q", got)
	}

	u.run("the list shows its last delivery", chromedp.Navigate(env.URL+"/tables/"+tb.ID+"/hooks"), chromedp.WaitVisible(chromedp.CSS(`table.hooks`)))
	if got := u.text(`table.hooks tbody tr`); !strings.Contains(got, "Yes") || !strings.Contains(got, "email") || !strings.Contains(got, "UTC") {
		t.Errorf("hook row: %q", got)
	}
	u.waitJS("the secret is not shown again", `document.getElementById("hook-secret") === null && document.getElementById("hook-url") === null`)
	u.run("revoke it", chromedp.Click(chromedp.CSS(`table.hooks a.danger`)), chromedp.WaitVisible(chromedp.CSS(`form.confirm`)),
		chromedp.Click(chromedp.CSS(`form.confirm button.danger`)), chromedp.WaitVisible(chromedp.CSS(`.notice`)))
	out, _ = exec.Command("bash", "-c", example+" -sS -o /dev/null -w '%{http_code}'").CombinedOutput()
	if string(out) != "404" {
		t.Errorf("posting to the revoked URL: %s", out)
	}
}
