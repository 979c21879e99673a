package catalog

import (
	"strings"
	"testing"
)

func TestEmbeddedCatalogIsValid(t *testing.T) {
	t.Parallel()
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	hub, ok := c.Get("hubspot")
	if !ok || hub.Auth != AuthOAuth2 {
		t.Fatalf("hubspot missing or not oauth2: %+v", hub)
	}
	if len(hub.DefaultScopes()) == 0 {
		t.Fatal("hubspot has no default scopes")
	}
	var apiKey bool
	for _, p := range c.All() {
		apiKey = apiKey || p.Auth == AuthAPIKey
	}
	if !apiKey {
		t.Fatal("no api_key provider in the catalog")
	}
}

func TestParseRefusesBadEntries(t *testing.T) {
	t.Parallel()
	const ok = `{"id":"x","name":"X","auth":"api_key","tier":"standard","urls":{},"scopes":[],"objects":[],"config_fields":[],"rate_limit":{"requests":1,"period":"1s"},"batch_size":1,"page_size":0}`
	tests := []struct {
		name, doc, want string
	}{
		{"valid", `{"providers":[` + ok + `]}`, ""},
		{"duplicate", `{"providers":[` + ok + `,` + ok + `]}`, "twice"},
		{"unknown field", `{"providers":[{"idd":"x"}]}`, "unknown field"},
		{"bad auth", `{"providers":[` + strings.Replace(ok, `"api_key"`, `"magic"`, 1) + `]}`, "auth"},
		{"bad tier", `{"providers":[` + strings.Replace(ok, `"standard"`, `"gold"`, 1) + `]}`, "tier"},
		{"bad period", `{"providers":[` + strings.Replace(ok, `"1s"`, `"soon"`, 1) + `]}`, "rate_limit"},
		{"oauth without urls", `{"providers":[` + strings.Replace(ok, `"api_key"`, `"oauth2"`, 1) + `]}`, "https"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(tc.doc))
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("err = %v, want containing %q", err, tc.want)
			}
		})
	}
}

func TestValidateConfigAndRebase(t *testing.T) {
	t.Parallel()
	c, _ := Load()
	dp, _ := c.Get("dataprovider")
	errs := dp.ValidateConfig(map[string]string{"bogus": "1"})
	if len(errs) != 2 || errs[0].Field != "config.bogus" || errs[1].Field != "config.endpoint_url" {
		t.Fatalf("errs = %+v", errs)
	}
	if errs := dp.ValidateConfig(map[string]string{"endpoint_url": "ftp://x"}); len(errs) != 1 {
		t.Fatalf("bad scheme accepted: %+v", errs)
	}
	hub, _ := c.Get("hubspot")
	r := hub.Rebase("http://127.0.0.1:9/_fakes/hubspot/")
	if r.URLs.Authorize != "http://127.0.0.1:9/_fakes/hubspot/oauth/authorize" || r.URLs.API != "http://127.0.0.1:9/_fakes/hubspot" {
		t.Fatalf("rebase: %+v", r.URLs)
	}
	if hub.URLs.API != "https://api.hubapi.com" {
		t.Fatal("rebase changed the original")
	}
}

func TestURLTemplates(t *testing.T) {
	t.Parallel()
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	shop, _ := c.Get("shopify")
	r := shop.Resolve(map[string]string{"shop": "acme.myshopify.com"})
	if r.URLs.Authorize != "https://acme.myshopify.com/admin/oauth/authorize" || r.URLs.API != "https://acme.myshopify.com/admin/api/2026-10" {
		t.Fatalf("resolved: %+v", r.URLs)
	}
	if bad := shop.Resolve(map[string]string{"shop": "evil.com/x?"}); bad.URLs.Token != shop.URLs.Token {
		t.Fatalf("a value failing the pattern reached a URL: %s", bad.URLs.Token)
	}
	fake := shop.Rebase("http://127.0.0.1:9/_fakes/shopify")
	if fake.URLs.Token != "http://127.0.0.1:9/_fakes/shopify/admin/oauth/access_token" {
		t.Fatalf("rebased: %+v", fake.URLs)
	}
	mc, _ := c.Get("mailchimp")
	if got := Expand(mc.URLs.API, map[string]string{"dc": "us6"}); got != "https://us6.api.mailchimp.com/3.0" {
		t.Fatalf("expand: %s", got)
	}
	if got := mc.Rebase("http://h/_fakes/mailchimp").URLs.Identity; got != "http://h/_fakes/mailchimp/oauth2/metadata" {
		t.Fatalf("identity rebased: %s", got)
	}

	const entry = `{"id":"x","name":"X","auth":"oauth2","tier":"standard","urls":{"authorize":"AUTH","token":"https://t.example/token","api":"https://api.example"},
		"scopes":[],"objects":[],"config_fields":[FIELDS],"rate_limit":{"requests":1,"period":"1s"},"batch_size":1,"page_size":0}`
	tests := []struct{ name, authorize, fields, want string }{
		{"config placeholder", "https://{host}/authorize", `{"name":"host","label":"Host","required":true,"pattern":"^[a-z]+\\.example$"}`, ""},
		{"no such field", "https://{host}/authorize", ``, "names no config field"},
		{"field without pattern", "https://{host}/authorize", `{"name":"host","label":"Host","required":true}`, "needs a pattern"},
		{"optional field", "https://{host}/authorize", `{"name":"host","label":"Host","required":false,"pattern":"^x$"}`, "must then be required"},
	}
	for _, tc := range tests {
		doc := `{"providers":[` + strings.NewReplacer("AUTH", tc.authorize, "FIELDS", tc.fields).Replace(entry) + `]}`
		_, err := Parse([]byte(doc))
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestTokenGivenAPIBaseAndKeyedLimits(t *testing.T) {
	t.Parallel()
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	sf, _ := c.Get("salesforce")
	if sf.APIBaseFromToken != "instance_url" || sf.URLs.API != "" || sf.Tier != TierPremium || sf.BatchSize != 200 {
		t.Errorf("salesforce entry: %+v", sf)
	}
	at, _ := c.Get("airtable")
	if !at.PKCE || at.RateLimit.Per != "base" || at.RateLimit.Requests != 5 || at.BatchSize != 10 || at.PageSize != 100 {
		t.Errorf("airtable entry: %+v", at)
	}
	if errs := at.ValidateConfig(map[string]string{"base_ids": "appAbCdEfGhIjKlMn, appNoPqRsTuVwXyZ1"}); len(errs) != 0 {
		t.Errorf("two bases refused: %+v", errs)
	}
	if errs := at.ValidateConfig(map[string]string{"base_ids": "tblAbCdEfGhIjKlMn"}); len(errs) != 1 {
		t.Errorf("a table id accepted as a base: %+v", errs)
	}
	// Without api_base_from_token an OAuth entry still needs its API URL.
	doc := `{"providers":[{"id":"x","name":"X","auth":"oauth2","tier":"standard","urls":{"authorize":"https://a.example/a","token":"https://a.example/t"},"scopes":[],"objects":[],"config_fields":[],"rate_limit":{"requests":1,"period":"1s"},"batch_size":1,"page_size":0}]}`
	if _, err := Parse([]byte(doc)); err == nil || !strings.Contains(err.Error(), "api") {
		t.Errorf("oauth2 without an API URL: %v", err)
	}
	if _, err := Parse([]byte(strings.Replace(doc, `"tier"`, `"api_base_from_token":"instance_url","tier"`, 1))); err != nil {
		t.Errorf("oauth2 with a token-given API base: %v", err)
	}
}
