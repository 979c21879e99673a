package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"patchbay/internal/app"
	"patchbay/internal/app/apptest"
)

// contains fails the test unless every want is in body.
func contains(t *testing.T, what, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("%s lacks %q", what, w)
		}
	}
}

// TestIntegrationsWithoutJavaScript walks the whole lifecycle through plain
// form posts: connect (redirected to the consent page), green card, revoke at
// the fake, Test shows red with the reason and the fix, disconnect with its
// confirmation page, reconnect.
func TestIntegrationsWithoutJavaScript(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, apptest.Options{})
	b := newBrowser(t, env)
	csrf := b.login()

	p := b.get("/")
	contains(t, "fresh integrations page", p.body, `id="card-hubspot"`, `Not connected`, `All connections are healthy.`, `Demo: make the HubSpot fake misbehave`)

	p = b.post("/integrations/hubspot/connect", url.Values{"csrf_token": {csrf}}, nil)
	if p.status != http.StatusSeeOther || !strings.Contains(p.location, "/_fakes/hubspot/") {
		t.Fatalf("connect: %d %q, want a redirect to the consent page", p.status, p.location)
	}
	st, loc := env.Consent(p.location, url.Values{})
	if st != http.StatusSeeOther || !strings.HasPrefix(loc, "/oauth/done?connection=") {
		t.Fatalf("callback: %d %q", st, loc)
	}
	connID := strings.TrimPrefix(strings.Split(loc, "&")[0], "/oauth/done?connection=")

	p = b.get("/")
	contains(t, "card after connecting", p.body, `data-health="green">Connected</span>`, `acct-demo`, `/connections/`+connID+`/test`, `Disconnect`)

	env.Control("hubspot", "revoke", map[string]string{})
	p = b.post("/connections/"+connID+"/test", url.Values{"csrf_token": {csrf}, "return": {"/"}}, nil)
	if p.status != http.StatusSeeOther || p.location != "/?notice=tested" {
		t.Fatalf("test: %d %q", p.status, p.location)
	}
	p = b.get(p.location)
	contains(t, "card after revoke and Test", p.body, `data-health="red">Action required: authorization revoked</span>`,
		`The authorization was revoked at the provider.`, `1 connection needs attention`, `Test finished`)

	if f := b.get("/?status=attention"); !strings.Contains(f.body, `id="card-hubspot"`) || strings.Contains(f.body, `id="card-dataprovider"`) {
		t.Error("the attention filter should show HubSpot only")
	}
	if f := b.get("/?status=not_connected"); strings.Contains(f.body, `id="card-hubspot"`) || !strings.Contains(f.body, `id="card-dataprovider"`) {
		t.Error("the not-connected filter should hide HubSpot and show the data provider")
	}

	p = b.get("/connections/" + connID + "/disconnect?return=/")
	contains(t, "disconnect confirmation", p.body, "deleted for good", "pause", "are <strong>kept</strong>")
	p = b.post("/connections/"+connID+"/disconnect", url.Values{"csrf_token": {csrf}, "return": {"/"}}, nil)
	if p.status != http.StatusSeeOther {
		t.Fatalf("disconnect: %d %.300s", p.status, p.body)
	}
	if c := env.Connection(connID); c.Status != "disconnected" {
		t.Fatalf("after disconnect: %s", c.Status)
	}
	contains(t, "card after disconnect", b.get("/").body, `data-health="grey">Disconnected</span>`, `/connections/`+connID+`/reconnect`)

	p = b.post("/connections/"+connID+"/reconnect", url.Values{"csrf_token": {csrf}}, nil)
	if p.status != http.StatusSeeOther || !strings.Contains(p.location, "/_fakes/hubspot/") {
		t.Fatalf("reconnect: %d %q", p.status, p.location)
	}
	if st, _ := env.Consent(p.location, url.Values{}); st != http.StatusSeeOther {
		t.Fatalf("reconnect callback: %d", st)
	}
	contains(t, "card after reconnect", b.get("/").body, `data-health="green">Connected</span>`)
}

func TestCardFragmentCarriesTheAttentionCount(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, apptest.Options{})
	b := newBrowser(t, env)
	b.login()
	id := env.ConnectOAuth("hubspot", "", nil)
	env.Control("hubspot", "outage", map[string]bool{"on": true})
	env.MustDo(http.StatusOK, "POST", "/connections/"+id+"/test", nil, nil)
	req, _ := http.NewRequest("GET", env.URL+"/integrations/hubspot/card", nil)
	req.Header.Set("X-Requested-With", "patchbay")
	p := b.do(req)
	if p.status != 200 || p.header.Get("X-Patchbay-Attention") != "1" || !strings.HasPrefix(strings.TrimSpace(p.body), `<li class="card" id="card-hubspot"`) {
		t.Fatalf("fragment: %d attention %q %.200s", p.status, p.header.Get("X-Patchbay-Attention"), p.body)
	}
	contains(t, "fragment", p.body, "Action required: service unavailable", "Patchbay retries by itself")
}

func TestAPIKeyFormShowsTheProvidersAnswer(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, apptest.Options{})
	b := newBrowser(t, env)
	csrf := b.login()
	endpoint := env.URL + "/_fakes/dataprovider"

	// Config validation: the field is named.
	p := b.post("/integrations/dataprovider/connect", url.Values{"csrf_token": {csrf}, "api_key": {"k"}}, nil)
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("missing endpoint: %d", p.status)
	}
	contains(t, "connect page with a config error", p.body, `data-field="config.endpoint_url">Endpoint URL is required`)

	// The provider refuses the key: its answer is shown, the key is not echoed back.
	p = b.post("/integrations/dataprovider/connect", url.Values{"csrf_token": {csrf}, "config.endpoint_url": {endpoint}, "api_key": {"wrong-key-123"}}, nil)
	if p.status != http.StatusUnprocessableEntity || strings.Contains(p.body, "wrong-key-123") {
		t.Fatalf("bad key: %d (and the key must not be echoed)", p.status)
	}
	contains(t, "connect page with a refused key", p.body, "validate API key with Data provider", `value="`+endpoint+`"`)

	// The script gets the same as JSON.
	p = b.post("/integrations/dataprovider/connect", url.Values{"csrf_token": {csrf}, "config.endpoint_url": {endpoint}, "api_key": {"wrong"}},
		map[string]string{"X-Requested-With": "patchbay"})
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.header.Get("Content-Type"), "json") || !strings.Contains(p.body, `"detail"`) {
		t.Fatalf("bad key via script: %d %s", p.status, p.body)
	}

	p = b.post("/integrations/dataprovider/connect", url.Values{"csrf_token": {csrf}, "config.endpoint_url": {endpoint}, "api_key": {app.DemoDataProviderKey}}, nil)
	if p.status != http.StatusSeeOther || p.location != "/?notice=connected" {
		t.Fatalf("good key: %d %q %.300s", p.status, p.location, p.body)
	}
	contains(t, "data provider card", b.get("/").body, `data-health="green">Connected</span>`, "Reconnect with a new key")
}

func TestConnectionDetailPage(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, apptest.Options{})
	b := newBrowser(t, env)
	csrf := b.login()
	id := env.ConnectOAuth("hubspot", "", nil, "crm.objects.contacts.read", "crm.objects.companies.write")

	p := b.get("/connections/" + id)
	if p.status != 200 {
		t.Fatalf("detail: %d", p.status)
	}
	contains(t, "detail page", p.body, "Permissions", "<code>crm.objects.companies.write</code>", "Create and update companies.",
		"Least privilege:", "crm.objects.companies.write (write) is granted but no sync uses it", "Endpoint", "/_fakes/hubspot",
		"contacts, companies", "Access expires", "No sync uses this connection yet.", "What we use it for")

	p = b.post("/connections/"+id+"/notes", url.Values{"csrf_token": {csrf}, "notes": {"Lead routing for sales"}}, nil)
	if p.status != http.StatusSeeOther || p.location != "/connections/"+id+"?notice=notes" {
		t.Fatalf("notes: %d %q", p.status, p.location)
	}
	contains(t, "detail after notes", b.get(p.location).body, "Lead routing for sales</textarea>", "Notes saved.")

	if p := b.get("/connections/con_nope"); p.status != http.StatusNotFound {
		t.Fatalf("unknown connection: %d", p.status)
	}
}

func TestDemoControlsDriveTheFake(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, apptest.Options{})
	b := newBrowser(t, env)
	csrf := b.login()
	id := env.ConnectOAuth("hubspot", "", nil)

	p := b.post("/demo/fakes/hubspot/outage", url.Values{"csrf_token": {csrf}, "on": {"true"}}, nil)
	if p.status != http.StatusSeeOther || p.location != "/?notice=control" {
		t.Fatalf("outage: %d %q %.200s", p.status, p.location, p.body)
	}
	if c := env.Connection(id); c.Status != "connected" {
		t.Fatalf("status changed before any probe: %s", c.Status)
	}
	b.post("/connections/"+id+"/test", url.Values{"csrf_token": {csrf}}, nil)
	if c := env.Connection(id); c.Reason != "service_unavailable" {
		t.Fatalf("after outage and Test: %s/%s", c.Status, c.Reason)
	}
	b.post("/demo/fakes/hubspot/outage", url.Values{"csrf_token": {csrf}, "on": {"false"}}, nil)
	b.post("/demo/fakes/hubspot/revoke", url.Values{"csrf_token": {csrf}, "account": {"acct-demo"}}, nil)
	b.post("/connections/"+id+"/test", url.Values{"csrf_token": {csrf}}, nil)
	if c := env.Connection(id); c.Reason != "authorization_revoked" {
		t.Fatalf("after revoke and Test: %s/%s", c.Status, c.Reason)
	}
	for _, tc := range []struct {
		path string
		form url.Values
		want int
	}{
		{"/demo/fakes/hubspot/rate_limit", url.Values{"per_second": {"2"}}, http.StatusSeeOther},
		{"/demo/fakes/hubspot/rate_limit", url.Values{"per_second": {"lots"}}, http.StatusUnprocessableEntity},
		{"/demo/fakes/hubspot/explode", url.Values{}, http.StatusNotFound},
		{"/demo/fakes/nosuch/outage", url.Values{}, http.StatusNotFound},
	} {
		tc.form.Set("csrf_token", csrf)
		if p := b.post(tc.path, tc.form, nil); p.status != tc.want {
			t.Errorf("%s %v: %d, want %d", tc.path, tc.form, p.status, tc.want)
		}
	}
}
