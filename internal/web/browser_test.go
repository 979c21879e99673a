package web_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"patchbay/internal/app/apptest"
)

// stepTimeout bounds one step of a browser test, so that a failure still
// leaves time for its screenshot.
const stepTimeout = 20 * time.Second

// chromiumPath finds Debian's chromium, or skips the test.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("PATCHBAY_TEST_CHROMIUM"); p != "" {
		return p
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	t.Skip("browser tests need chromium: run `make test` (it installs it) or set PATCHBAY_TEST_CHROMIUM to its path")
	return ""
}

// ui is one headless chromium logged in to one Patchbay.
type ui struct {
	t   *testing.T
	env *apptest.Env
	ctx context.Context
}

// startUI starts Patchbay and a fresh headless chromium signed in to it.
func startUI(t *testing.T, width, height int) *ui {
	t.Helper()
	path := chromiumPath(t)
	env := apptest.Start(t, apptest.Options{})
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	// Start the browser on the long-lived context: the first action's context
	// owns the browser, and steps run under shorter timeouts.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium %s: %v", path, err)
	}
	u := &ui{t: t, env: env, ctx: ctx}
	link, err := env.App.LoginLink(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	u.run("sign in with the login link", chromedp.Navigate(env.URL+link), chromedp.WaitVisible(chromedp.CSS(`#card-hubspot`)))
	return u
}

// run performs actions; on failure it saves a screenshot and logs where.
func (u *ui) run(step string, actions ...chromedp.Action[chromedp.Void]) {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(u.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		u.t.Fatalf("%s: %v (screenshot: %s)", step, err, u.screenshot(step))
	}
}

// screenshot saves the page under the temp folder and returns its path.
func (u *ui) screenshot(step string) string {
	sctx, cancel := context.WithTimeout(u.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100)) // 100 means PNG
	if err != nil {
		return "none: " + err.Error()
	}
	dir := filepath.Join(os.TempDir(), "patchbay-browser-tests")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "none: " + err.Error()
	}
	name := strings.NewReplacer("/", "_", " ", "_").Replace(fmt.Sprintf("%s-%s-%d.png", u.t.Name(), step, time.Now().UnixNano()))
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, png, 0o644); err != nil {
		return "none: " + err.Error()
	}
	return p
}

// waitJS waits until a JavaScript expression is true in the page.
func (u *ui) waitJS(step, expr string) {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(u.ctx, stepTimeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr)); err != nil {
		u.t.Fatalf("%s: %v (screenshot: %s)", step, err, u.screenshot(step))
	}
}

// text reads the text of the first element matching sel.
func (u *ui) text(sel string) string {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(u.ctx, stepTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		u.t.Fatalf("read %s: %v (screenshot: %s)", sel, err, u.screenshot("read"))
	}
	return s
}

// consent clicks a button that opens the consent pop-up, signs in at the
// fake as account (its default when empty) and approves.
func (u *ui) consent(step, button, account string) {
	u.t.Helper()
	popup := chromedp.WaitNewTarget(u.ctx, func(*target.Info) bool { return true })
	u.run(step+": click", chromedp.Click(chromedp.CSS(button)))
	var id target.ID
	select {
	case id = <-popup:
	case <-time.After(stepTimeout):
		u.t.Fatalf("%s: no pop-up opened (screenshot: %s)", step, u.screenshot(step))
	}
	// The pop-up closes itself once the callback is done; cancelling its
	// context now would close it before, so that waits for the test's end.
	pctx, cancel := chromedp.NewContext(u.ctx, chromedp.WithTargetID(id))
	u.t.Cleanup(cancel)
	pctx, cancelStep := context.WithTimeout(pctx, stepTimeout)
	defer cancelStep()
	actions := []chromedp.Action[chromedp.Void]{chromedp.WaitVisible(chromedp.CSS(`button[value="approve"]`))}
	if account != "" {
		actions = append(actions, chromedp.SetValue(chromedp.CSS(`input[name="account"]`), account))
	}
	actions = append(actions, chromedp.Click(chromedp.CSS(`button[value="approve"]`)))
	if err := chromedp.Do(pctx, actions...); err != nil {
		u.t.Fatalf("%s: consent in the pop-up: %v (screenshot of the main page: %s)", step, err, u.screenshot(step))
	}
}

// TestBrowserConnectionLifecycle drives the dashboard in chromium: connect
// through the pop-up, see green, revoke at the fake, Test shows red with the
// reason, reconnect, disconnect through the confirmation dialog.
func TestBrowserConnectionLifecycle(t *testing.T) {
	u := startUI(t, 1280, 900)
	const card = `#card-hubspot`

	u.consent("connect", card+` form.connect button[type="submit"]`, "")
	u.run("card turns green", chromedp.WaitVisible(chromedp.CSS(card+` .badge.green`)))
	if got := u.text(card + ` .badge`); got != "Connected" {
		t.Fatalf("badge %q", got)
	}
	if got := u.text(card + ` .conn dl`); !strings.Contains(got, "acct-demo") {
		t.Errorf("account not shown on the card: %q", got)
	}

	u.env.Control("hubspot", "revoke", map[string]string{})
	u.run("test after revoke", chromedp.Click(chromedp.CSS(card+` form[action$="/test"] button`)),
		chromedp.WaitVisible(chromedp.CSS(card+` .badge.red`)))
	if got := u.text(card + ` .badge`); got != "Action required: authorization revoked" {
		t.Errorf("red badge %q", got)
	}
	if got := u.text(card + ` .fix`); !strings.Contains(got, "revoked at the provider") {
		t.Errorf("fix text %q", got)
	}
	if got := u.text(`#attention`); got != "1 connection needs attention" {
		t.Errorf("attention count %q", got)
	}

	u.consent("reconnect", card+` form[data-kind="reconnect"] button`, "")
	u.run("card green after reconnect", chromedp.WaitVisible(chromedp.CSS(card+` .badge.green`)))
	if got := u.text(`#attention`); got != "All connections are healthy." {
		t.Errorf("attention after reconnect %q", got)
	}

	u.run("open the disconnect confirmation", chromedp.Click(chromedp.CSS(card+` a[data-dialog]`)),
		chromedp.WaitVisible(chromedp.CSS(`dialog[open]`)))
	confirm := u.text(`dialog[open]`)
	for _, want := range []string{"deleted for good", "pause", "kept"} {
		if !strings.Contains(confirm, want) {
			t.Errorf("confirmation lacks %q: %q", want, confirm)
		}
	}
	u.run("cancel keeps the connection", chromedp.Click(chromedp.CSS(`dialog[open] button[data-close]`)),
		chromedp.WaitNotPresent(chromedp.CSS(`dialog[open]`)))
	u.run("disconnect", chromedp.Click(chromedp.CSS(card+` a[data-dialog]`)), chromedp.WaitVisible(chromedp.CSS(`dialog[open]`)),
		chromedp.Click(chromedp.CSS(`dialog[open] button.danger`)), chromedp.WaitVisible(chromedp.CSS(card+` .badge.grey`)))
	if got := u.text(card + ` .badge`); got != "Disconnected" {
		t.Errorf("badge after disconnect %q", got)
	}
}

// TestBrowserAccountChangeNeedsConfirmation reconnects as another account:
// the page explains the consequence and retries with the change allowed.
func TestBrowserAccountChangeNeedsConfirmation(t *testing.T) {
	u := startUI(t, 1280, 900)
	const card = `#card-hubspot`
	u.consent("connect", card+` form.connect button[type="submit"]`, "")
	u.run("green", chromedp.WaitVisible(chromedp.CSS(card+` .badge.green`)))

	u.consent("reconnect as another account", card+` form[data-kind="reconnect"] button`, "acct-other")
	u.run("account change dialog", chromedp.WaitVisible(chromedp.CSS(`#account-dialog[open]`)))
	if got := u.text(`#account-dialog`); !strings.Contains(got, "account changed from") || !strings.Contains(got, "syncs") {
		t.Errorf("dialog does not explain the change: %q", got)
	}
	if got := u.text(`#account-dialog [data-detail]`); !strings.Contains(got, "acct-demo@example.com") || strings.Contains(got, "allow_account_change") {
		t.Errorf("the dialog should name the accounts by name and e-mail, in words: %q", got)
	}
	u.consent("accept the new account", `#account-dialog [data-accept-account]`, "acct-other")
	u.waitJS("the card shows the new account", `document.querySelector("#card-hubspot .conn dl").textContent.includes("acct-other")`)
	if got := u.text(card + ` .badge`); got != "Connected" {
		t.Errorf("badge after the account change %q", got)
	}
}

// TestBrowserBlockedPopupFallsBackToTheMainWindow: with pop-ups blocked the
// page says so and the same flow runs in the main window.
func TestBrowserBlockedPopupFallsBackToTheMainWindow(t *testing.T) {
	u := startUI(t, 1280, 900)
	const card = `#card-hubspot`
	u.run("block pop-ups and connect", chromedp.Evaluate[chromedp.Void](`window.open = function () { return null; }`),
		chromedp.Click(chromedp.CSS(card+` form.connect button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#popup-dialog[open]`)))
	u.run("continue in this window", chromedp.Click(chromedp.CSS(`#popup-dialog [data-continue-here]`)),
		chromedp.WaitVisible(chromedp.CSS(`button[value="approve"]`)),
		chromedp.Click(chromedp.CSS(`button[value="approve"]`)),
		chromedp.WaitVisible(chromedp.CSS(card+` .badge.green`)))
}

// TestBrowserAPIKeyErrorsInline: the provider's refusal appears in the form.
func TestBrowserAPIKeyErrorsInline(t *testing.T) {
	u := startUI(t, 1280, 900)
	const card = `#card-dataprovider`
	u.run("submit a wrong key",
		chromedp.SetValue(chromedp.CSS(card+` input[name="config.endpoint_url"]`), u.env.URL+"/_fakes/dataprovider"),
		chromedp.SetValue(chromedp.CSS(card+` input[name="api_key"]`), "not-a-key"),
		chromedp.Click(chromedp.CSS(card+` form.connect button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(card+` form.connect [data-errors]:not([hidden])`)))
	if got := u.text(card + ` form.connect [data-errors]`); !strings.Contains(got, "validate API key") {
		t.Errorf("error shown: %q", got)
	}
}

// TestBrowserSyncSetupRunAndReconnect adds a column row to the create-table
// form, then sets up an inbound sync in chromium: a bad filter is refused next to the input with its position; the fixed
// sync runs and its run appears in the history. Then the grant is revoked at
// the fake: Test turns the card red, Sync now leaves the sync waiting for a
// reconnect, and reconnecting through the pop-up shows it resumed.
func TestBrowserSyncSetupRunAndReconnect(t *testing.T) {
	u := startUI(t, 1280, 900)
	env := u.env
	conn := env.ConnectOAuth("hubspot", "", nil, "crm.objects.contacts.read", "crm.objects.contacts.write")
	seedContacts(env, 3)
	var tb struct{ ID string }
	env.MustDo(201, "POST", "/tables", map[string]any{"name": "Leads", "columns": []map[string]string{{"name": "email", "type": "text"}, {"name": "firstname", "type": "text"}}}, &tb)
	page := env.URL + "/tables/" + tb.ID

	u.run("add a column row", chromedp.Navigate(env.URL+"/tables"), chromedp.Click(chromedp.CSS(`button[data-add-column]`)),
		chromedp.WaitVisible(chromedp.CSS(`#col-name-4`)))
	u.waitJS("the new row is labelled and focused", `document.activeElement.id === "col-name-4" && document.querySelector('label[for="col-name-4"]').textContent === "Column 5 name"`)

	u.run("choose the connection and object", chromedp.Navigate(page), chromedp.Click(chromedp.CSS(`a[href$="/syncs/new"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#source`)), chromedp.SetValue(chromedp.CSS(`#source`), conn+":contacts"),
		chromedp.Click(chromedp.CSS(`form.setup-step button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS(`#filter`)))
	u.waitJS("the email column's picker preselects the email field", `document.getElementById("map-0").value === "email"`)
	u.run("save with a bad filter", chromedp.SendKeys(chromedp.CSS(`#filter`), `firstname = "P1" and`),
		chromedp.Click(chromedp.CSS(`form.sync-setup button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#filter[aria-invalid="true"]`)))
	if got := u.text(`#filter-err`); !strings.Contains(got, "position 21") {
		t.Errorf("filter error shown: %q", got)
	}
	u.waitJS("the invalid filter has the focus", `document.activeElement && document.activeElement.id === "filter"`)

	u.run("fix the filter and save", chromedp.SetValue(chromedp.CSS(`#filter`), `lifecyclestage = "lead"`),
		chromedp.Click(chromedp.CSS(`form.sync-setup button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.sync .sync-state.active`)))
	u.run("sync now", chromedp.Click(chromedp.CSS(`.sync form[action$="/run"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`.sync tr[data-trigger="manual"][data-status="succeeded"]`)))
	if got := u.text(`.sync tr[data-trigger="manual"]`); !strings.Contains(got, "succeeded") || !strings.Contains(got, "3") {
		t.Errorf("run in the history: %q", got)
	}
	if n := u.text(`table.rows tbody`); !strings.Contains(n, "p01@acme.test") {
		t.Errorf("rows after the run: %q", n)
	}

	env.Control("hubspot", "revoke", map[string]string{})
	u.run("test turns the card red", chromedp.Navigate(env.URL+"/"),
		chromedp.Click(chromedp.CSS(`#card-hubspot form[action$="/test"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`#card-hubspot .badge.red`)))
	u.run("sync now on the revoked grant", chromedp.Navigate(page),
		chromedp.Click(chromedp.CSS(`.sync form[action$="/run"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`.sync .sync-state.waiting`)))
	if got := u.text(`.sync .fix`); !strings.Contains(got, "resumes by itself") {
		t.Errorf("waiting sync explains itself: %q", got)
	}

	u.run("back to the integrations", chromedp.Navigate(env.URL+"/"), chromedp.WaitVisible(chromedp.CSS(`#card-hubspot .badge.red`)))
	u.consent("reconnect", `#card-hubspot form[data-kind="reconnect"] button`, "")
	u.run("green again", chromedp.WaitVisible(chromedp.CSS(`#card-hubspot .badge.green`)))
	u.run("the sync resumed", chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS(`.sync .sync-state.active`)))
	if got := u.text(`.sync .sync-state`); got != "Active" {
		t.Errorf("sync state after reconnect %q", got)
	}
}
