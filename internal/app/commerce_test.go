package app_test

import (
	"bytes"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"patchbay/internal/app/apptest"
	fakemailchimp "patchbay/internal/fakes/mailchimp"
	fakeshopify "patchbay/internal/fakes/shopify"
)

const store1, store2 = "acme.myshopify.com", "rival.myshopify.com"

func shopifyFake(e *apptest.Env) *fakeshopify.Fake {
	return e.Fakes["shopify"].Handler.(*fakeshopify.Fake)
}

func mailchimpFake(e *apptest.Env) *fakemailchimp.Fake {
	return e.Fakes["mailchimp"].Handler.(*fakemailchimp.Fake)
}

func premium(e *apptest.Env) {
	e.T.Helper()
	e.MustDo(http.StatusOK, "PATCH", "/workspace", map[string]any{"plan": "premium"}, nil)
}

func TestPremiumIntegrationNeedsThePlan(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	var ws struct {
		Plan    string   `json:"plan"`
		Plans   []string `json:"plans"`
		Premium []string `json:"premium_integrations"`
	}
	e.MustDo(http.StatusOK, "GET", "/workspace", nil, &ws)
	if ws.Plan != "standard" || !strings.Contains(strings.Join(ws.Premium, ","), "shopify") {
		t.Fatalf("workspace = %+v", ws)
	}
	req := map[string]any{"provider": "shopify", "config": map[string]string{"shop": store1}}
	st, body := e.Do("POST", "/connections", req, nil)
	if st != http.StatusForbidden || !strings.Contains(body, "standard plan") || !strings.Contains(body, "premium plan") || !strings.Contains(body, "webhook bridge") {
		t.Fatalf("premium provider on the standard plan: %d %s", st, body)
	}
	if st, body := e.Do("PATCH", "/workspace", map[string]any{"plan": "gold"}, nil); st != http.StatusUnprocessableEntity || !strings.Contains(body, `"field":"plan"`) {
		t.Fatalf("unknown plan: %d %s", st, body)
	}
	premium(e)
	e.MustDo(http.StatusOK, "GET", "/workspace", nil, &ws)
	if ws.Plan != "premium" {
		t.Fatalf("plan after upgrade: %+v", ws)
	}
	e.MustDo(http.StatusCreated, "POST", "/connections", req, nil)
	// Bad store domains are refused before anything is stored.
	bad := map[string]any{"provider": "shopify", "config": map[string]string{"shop": "acme.example.com"}}
	if st, body := e.Do("POST", "/connections", bad, nil); st != http.StatusUnprocessableEntity || !strings.Contains(body, "config.shop") {
		t.Fatalf("bad shop: %d %s", st, body)
	}
}

func TestShopifyConnectUsesTheStoreAndItMustMatch(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	premium(e)
	id := e.ConnectOAuth("shopify", store1, map[string]string{"shop": store1})
	c := e.Connection(id)
	if c.Status != "connected" || c.Account.ID != store1 || c.Account.Name != "acme" || strings.Join(c.ScopesGranted, " ") != "read_customers write_customers read_orders read_products" {
		t.Fatalf("connection = %+v", c)
	}
	var detail struct {
		Endpoint string `json:"endpoint"`
	}
	e.MustDo(http.StatusOK, "GET", "/connections/"+id, nil, &detail)
	// The catalog's version must be one Shopify still supports (not one it falls forward from).
	base, version, _ := strings.Cut(detail.Endpoint, "/_fakes/shopify/admin/api/")
	if base == "" || !slices.Contains(fakeshopify.SupportedVersions(), version) {
		t.Errorf("endpoint = %q", detail.Endpoint)
	}
	e.MustDo(http.StatusOK, "POST", "/connections/"+id+"/test", nil, nil)

	var r struct {
		AuthorizeURL string `json:"authorize_url"`
	}
	for _, allow := range []bool{false, true} {
		e.MustDo(http.StatusOK, "POST", "/connections/"+id+"/reconnect", map[string]any{"allow_account_change": allow}, &r)
		if !strings.Contains(r.AuthorizeURL, "scope=read_customers%2Cwrite_customers") {
			t.Fatalf("scopes not comma-separated: %s", r.AuthorizeURL)
		}
		st, body := e.Consent(r.AuthorizeURL, url.Values{"account": {store2}})
		if st != http.StatusConflict || !strings.Contains(body, "account_mismatch") {
			t.Fatalf("reconnect to another store (allow %v): %d %s", allow, st, body)
		}
	}
	if c := e.Connection(id); c.Account.ID != store1 || c.Status != "connected" {
		t.Fatalf("refused reconnect changed the connection: %+v", c)
	}
}

func TestShopifyCallbackHMACIsChecked(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	premium(e)
	var out struct {
		Connection   apptest.Connection `json:"connection"`
		AuthorizeURL string             `json:"authorize_url"`
	}
	e.MustDo(http.StatusCreated, "POST", "/connections", map[string]any{"provider": "shopify", "config": map[string]string{"shop": store1}}, &out)
	resp, err := e.HTTP.PostForm(out.AuthorizeURL, url.Values{"decision": {"approve"}, "account": {store1}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	q := loc.Query()
	if q.Get("hmac") == "" || q.Get("shop") != store1 || q.Get("timestamp") == "" {
		t.Fatalf("redirect is not signed like Shopify's: %s", loc)
	}
	q.Set("timestamp", "1") // tampered
	loc.RawQuery = q.Encode()
	req, _ := http.NewRequest("GET", loc.String(), nil)
	req.Header.Set("Accept", "application/json")
	resp, err = e.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(buf.String(), "callback-signature") {
		t.Fatalf("tampered redirect: %d %s", resp.StatusCode, buf.String())
	}
	if c := e.Connection(out.Connection.ID); c.Status != "not_connected" {
		t.Fatalf("tampered redirect connected: %+v", c)
	}
}

func TestShopifyUninstallTurnsRedAndReinstallHeals(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	premium(e)
	id := e.ConnectOAuth("shopify", store1, map[string]string{"shop": store1})

	// A forged webhook changes nothing.
	req, _ := http.NewRequest("POST", e.URL+"/webhooks/providers/shopify", strings.NewReader(`{}`))
	req.Header.Set("X-Shopify-Topic", "app/uninstalled")
	req.Header.Set("X-Shopify-Shop-Domain", store1)
	req.Header.Set("X-Shopify-Hmac-Sha256", fakeshopify.SignWebhook([]byte(`{}`), "not-the-secret"))
	resp, err := e.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || e.Connection(id).Status != "connected" {
		t.Fatalf("forged webhook: %d, connection %s", resp.StatusCode, e.Connection(id).Status)
	}

	// The store uninstalls the app: Shopify posts app/uninstalled, signed.
	out := e.Control("shopify", "uninstall", map[string]string{"account": store1})
	if !strings.Contains(out, `"webhook_status":200`) {
		t.Fatalf("uninstall: %s", out)
	}
	c := e.Connection(id)
	if c.Status != "error" || c.Reason != "authorization_revoked" || c.Health != "red" {
		t.Fatalf("after app/uninstalled: %+v", c)
	}
	if st := shopifyFake(e).CostStats(); st.Webhooks != 1 {
		t.Fatalf("webhooks delivered: %+v", st)
	}
	// The health probe agrees: the token is refused as revoked.
	e.MustDo(http.StatusOK, "POST", "/connections/"+id+"/test", nil, nil)
	if c := e.Connection(id); c.Reason != "authorization_revoked" || c.Health != "red" {
		t.Fatalf("after a probe: %+v", c)
	}

	// Re-installation: reconnecting installs the app again.
	var r struct {
		AuthorizeURL string `json:"authorize_url"`
	}
	e.MustDo(http.StatusOK, "POST", "/connections/"+id+"/reconnect", nil, &r)
	if st, body := e.Consent(r.AuthorizeURL, url.Values{"account": {store1}}); st != http.StatusSeeOther {
		t.Fatalf("reinstall: %d %s", st, body)
	}
	if c := e.Connection(id); c.Status != "connected" || c.Health != "green" {
		t.Fatalf("after reinstall: %+v", c)
	}
	e.MustDo(http.StatusOK, "POST", "/connections/"+id+"/test", nil, nil)
}

func TestMailchimpOAuthAccountMustMatch(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	id := e.ConnectOAuth("mailchimp", "acct-m1", nil)
	c := e.Connection(id)
	if c.Status != "connected" || c.Account.ID != fakemailchimp.AccountID("acct-m1") || c.Account.Email != fakemailchimp.LoginEmail("acct-m1") {
		t.Fatalf("connection = %+v", c)
	}
	var detail struct {
		Endpoint string `json:"endpoint"`
	}
	e.MustDo(http.StatusOK, "GET", "/connections/"+id, nil, &detail)
	if !strings.HasSuffix(detail.Endpoint, "/_fakes/mailchimp/3.0") {
		t.Errorf("endpoint = %q", detail.Endpoint)
	}
	e.MustDo(http.StatusOK, "POST", "/connections/"+id+"/test", nil, nil)
	var r struct {
		AuthorizeURL string `json:"authorize_url"`
	}
	e.MustDo(http.StatusOK, "POST", "/connections/"+id+"/reconnect", nil, &r)
	if st, body := e.Consent(r.AuthorizeURL, url.Values{"account": {"acct-m2"}}); st != http.StatusConflict || !strings.Contains(body, "account_mismatch") {
		t.Fatalf("reconnect to another Mailchimp account: %d %s", st, body)
	}
	e.MustDo(http.StatusOK, "POST", "/connections/"+id+"/reconnect", nil, &r)
	if st, body := e.Consent(r.AuthorizeURL, url.Values{"account": {"acct-m1"}}); st != http.StatusSeeOther {
		t.Fatalf("reconnect to the same account: %d %s", st, body)
	}
}

func TestMailchimpAPIKey(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	mc := mailchimpFake(e)
	key := mc.NewAPIKey("acct-k1")
	var out struct {
		Connection apptest.Connection `json:"connection"`
	}
	e.MustDo(http.StatusCreated, "POST", "/connections", map[string]any{"provider": "mailchimp_key", "api_key": key}, &out)
	if out.Connection.Status != "connected" || out.Connection.Account.ID != fakemailchimp.AccountID("acct-k1") {
		t.Fatalf("connection = %+v", out.Connection)
	}
	id := out.Connection.ID
	if st, body := e.Do("POST", "/connections", map[string]any{"provider": "mailchimp_key", "api_key": "0123456789abcdef"}, nil); st != http.StatusUnprocessableEntity || !strings.Contains(body, "data centre") {
		t.Fatalf("key without data centre: %d %s", st, body)
	}
	if st, body := e.Do("POST", "/connections/"+id+"/reconnect", map[string]any{"api_key": mc.NewAPIKey("acct-k2")}, nil); st != http.StatusConflict || !strings.Contains(body, "account") {
		t.Fatalf("reconnect with another account's key: %d %s", st, body)
	}
	e.MustDo(http.StatusOK, "POST", "/connections/"+id+"/reconnect", map[string]any{"api_key": mc.NewAPIKey("acct-k1")}, nil)
	e.MustDo(http.StatusOK, "POST", "/connections/"+id+"/test", nil, nil)
	if c := e.Connection(id); c.Status != "connected" {
		t.Fatalf("after key rotation: %+v", c)
	}
}
