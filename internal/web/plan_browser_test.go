package web_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/chromedp/chromedp"

	"patchbay/internal/app/apptest"
)

// premiumSetup is how the browser test connects each premium integration:
// the config its connect form asks for, and the account to sign in as.
var premiumSetup = map[string]struct {
	config  map[string]string
	account string
}{
	"salesforce": {},
	"shopify":    {config: map[string]string{"shop": "acme.myshopify.com"}, account: "acme.myshopify.com"},
}

// TestBrowserUpgradeThenConnect follows a premium card's upgrade link to
// the plan page in chromium, upgrades, and connects every premium
// integration (Salesforce, Shopify) through the consent pop-up.
func TestBrowserUpgradeThenConnect(t *testing.T) {
	u := startUI(t, 1280, 900)
	var ws struct {
		Premium []string `json:"premium_integrations"`
	}
	u.env.MustDo(http.StatusOK, "GET", "/workspace", nil, &ws)
	if len(ws.Premium) == 0 {
		t.Skip("the catalog has no premium integration")
	}
	first := `#card-` + ws.Premium[0]
	u.run("the premium card links to the plan", chromedp.WaitVisible(chromedp.CSS(first+` a[data-upgrade]`)),
		chromedp.Click(chromedp.CSS(first+` a[data-upgrade]`)), chromedp.WaitVisible(chromedp.CSS(`#tier-premium`)))
	if got := u.text(`#current-plan`); got != "Standard" {
		t.Errorf("current plan %q", got)
	}
	u.run("upgrade", chromedp.Click(chromedp.CSS(`button[data-plan="premium"]`)), chromedp.WaitVisible(chromedp.CSS(`.notice`)))
	if got := u.text(`#current-plan`); got != "Premium" {
		t.Errorf("plan after upgrading %q", got)
	}
	for _, id := range ws.Premium {
		setup, ok := premiumSetup[id]
		if !ok {
			t.Errorf("no browser set-up for premium integration %s: add it to premiumSetup", id)
			continue
		}
		card := `#card-` + id
		actions := []chromedp.Action[chromedp.Void]{chromedp.Navigate(u.env.URL + "/"), chromedp.WaitVisible(chromedp.CSS(card + ` form.connect`))}
		for k, v := range setup.config {
			actions = append(actions, chromedp.SetValue(chromedp.CSS(card+` form.connect input[name="config.`+k+`"]`), v))
		}
		u.run("open the "+id+" card", actions...)
		u.consent("connect "+id, card+` form.connect button[type="submit"]`, setup.account)
		u.run(id+" is connected", chromedp.WaitVisible(chromedp.CSS(card+` .badge.green`)))
	}
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
	shop := env.ConnectOAuth("shopify", "acme.myshopify.com", map[string]string{"shop": "acme.myshopify.com"})
	var tb struct{ ID string }
	env.MustDo(http.StatusCreated, "POST", "/tables", map[string]any{"name": "Customers", "columns": []map[string]string{{"name": "email", "type": "text"}}}, &tb)
	var y struct{ ID string }
	env.MustDo(http.StatusCreated, "POST", "/syncs", map[string]any{"direction": "inbound", "connection_id": shop, "table_id": tb.ID,
		"object": "customers", "mapping": []map[string]string{{"source": "email", "target": "email"}}}, &y)

	p := b.post("/plan", url.Values{"csrf_token": {csrf}, "plan": {"standard"}}, nil)
	contains(t, "downgrade confirmation", p.body, "Move to the Standard plan?", "Shopify", "nothing is deleted")
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
