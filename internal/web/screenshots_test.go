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
	u.run("narrow window", chromedp.EmulateViewport(390, 844), chromedp.Navigate(env.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#card-hubspot`)))
	shot("integrations-narrow", false)
}
