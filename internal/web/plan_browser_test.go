package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"patchbay/internal/app/apptest"
)

// TestBrowserUpgradeThenConnect follows a premium card's upgrade link to
// the plan page in chromium, upgrades, and connects Salesforce through the
// consent pop-up.
func TestBrowserUpgradeThenConnect(t *testing.T) {
	u := startUI(t, 1280, 900)
	const card = `#card-salesforce`
	u.run("the premium card links to the plan", chromedp.WaitVisible(chromedp.CSS(card+` a[data-upgrade]`)),
		chromedp.Click(chromedp.CSS(card+` a[data-upgrade]`)), chromedp.WaitVisible(chromedp.CSS(`#tier-premium`)))
	if got := u.text(`#current-plan`); got != "Standard" {
		t.Errorf("current plan %q", got)
	}
	if got := u.text(`#tier-premium`); !strings.Contains(strings.ToLower(got), "adds salesforce") {
		t.Errorf("the premium tier does not list Salesforce: %q", got)
	}
	u.run("upgrade", chromedp.Click(chromedp.CSS(`button[data-plan="premium"]`)), chromedp.WaitVisible(chromedp.CSS(`.notice`)))
	if got := u.text(`#current-plan`); got != "Premium" {
		t.Errorf("plan after upgrading %q", got)
	}
	u.run("back to the integrations", chromedp.Navigate(u.env.URL+"/"), chromedp.WaitVisible(chromedp.CSS(card+` form.connect`)))
	u.consent("connect Salesforce", card+` form.connect button[type="submit"]`, "")
	u.run("Salesforce is connected", chromedp.WaitVisible(chromedp.CSS(card+` .badge.green`)))
}

// TestDowngradePausesPremiumSyncs: moving down asks first, then pauses the
// syncs of premium connections (reason plan) and keeps their rows; moving
// up again resumes them.
func TestDowngradePausesPremiumSyncs(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, apptest.Options{})
	b := newBrowser(t, env)
	csrf := b.login()
	if p := b.post("/plan", url.Values{"csrf_token": {csrf}, "plan": {"premium"}}, nil); p.status != http.StatusSeeOther {
		t.Fatalf("upgrade: %d %.300s", p.status, p.body)
	}
	sf := env.ConnectOAuth("salesforce", "", nil)
	var tb struct{ ID string }
	env.MustDo(http.StatusCreated, "POST", "/tables", map[string]any{"name": "Accounts", "columns": []map[string]string{{"name": "name", "type": "text"}}}, &tb)
	var objs struct {
		Objects []string `json:"objects"`
	}
	env.MustDo(http.StatusOK, "GET", "/connections/"+sf, nil, &objs)
	var y struct{ ID string }
	env.MustDo(http.StatusCreated, "POST", "/syncs", map[string]any{"direction": "inbound", "connection_id": sf, "table_id": tb.ID,
		"object": objs.Objects[0], "mapping": []map[string]string{{"source": "Email", "target": "name"}}}, &y)

	p := b.post("/plan", url.Values{"csrf_token": {csrf}, "plan": {"standard"}}, nil)
	contains(t, "downgrade confirmation", p.body, "Move to the Standard plan?", "Salesforce", "nothing is deleted")
	if p = b.post("/plan", url.Values{"csrf_token": {csrf}, "plan": {"standard"}, "confirmed": {"1"}}, nil); p.status != http.StatusSeeOther {
		t.Fatalf("downgrade: %d %.300s", p.status, p.body)
	}
	var got struct {
		Paused      bool   `json:"paused"`
		PauseReason string `json:"pause_reason"`
	}
	env.MustDo(http.StatusOK, "GET", "/syncs/"+y.ID, nil, &got)
	if !got.Paused || got.PauseReason != "plan" {
		t.Errorf("sync after the downgrade: %+v", got)
	}
	b.post("/plan", url.Values{"csrf_token": {csrf}, "plan": {"premium"}}, nil)
	env.MustDo(http.StatusOK, "GET", "/syncs/"+y.ID, nil, &got)
	if got.Paused {
		t.Errorf("sync after upgrading again: %+v", got)
	}
}
