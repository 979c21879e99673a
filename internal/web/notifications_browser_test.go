package web_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserNotifications adds an e-mail route for one event in chromium,
// sends it a test (this test's Patchbay has no mail server, so the page
// says in words why it was not delivered), sees the digest, and deletes
// the route.
func TestBrowserNotifications(t *testing.T) {
	u := startUI(t, 1280, 900)
	env := u.env
	env.ConnectOAuth("hubspot", "", nil)
	u.run("add an e-mail route", chromedp.Navigate(env.URL+"/notifications"), chromedp.WaitVisible(chromedp.CSS(`#target`)),
		chromedp.SendKeys(chromedp.CSS(`#target`), "ops@example.com"),
		chromedp.Click(chromedp.CSS(`input[name="event"][value="connection.red"]`)),
		chromedp.Click(chromedp.CSS(`form.new-route button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS(`table.routes`)))
	if got := u.text(`table.routes tbody tr`); !strings.Contains(got, "ops@example.com") || !strings.Contains(got, "A connection needs action (red)") ||
		!strings.Contains(got, "every connection") {
		t.Errorf("route row: %q", got)
	}
	if got := u.text(`#digest-h + p + article`); !strings.Contains(got, "Patchbay") {
		t.Errorf("digest: %q", got)
	}
	u.run("send a test", chromedp.Click(chromedp.CSS(`button[data-test-route]`)), chromedp.WaitVisible(chromedp.CSS(`div.problem[role="alert"]`)))
	if got := u.text(`main`); !strings.Contains(got, "The test was not delivered") || !strings.Contains(got, "e-mail is not configured") {
		t.Errorf("test without a mail server: %q", got)
	}
	u.run("a bad address is refused", chromedp.Navigate(env.URL+"/notifications"), chromedp.WaitVisible(chromedp.CSS(`#target`)),
		chromedp.SendKeys(chromedp.CSS(`#target`), "not an address"),
		chromedp.Click(chromedp.CSS(`form.new-route button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS(`form.new-route .error`)))
	u.run("delete the route", chromedp.Navigate(env.URL+"/notifications"), chromedp.Click(chromedp.CSS(`table.routes button.danger`)),
		chromedp.WaitVisible(chromedp.CSS(`.notice`)))
	if got := u.text(`#routes-h + p`); !strings.Contains(got, "No route yet") {
		t.Errorf("after deleting: %q", got)
	}
}
