package fakekit

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

const redirect = "https://app.example/oauth/callback"

// harness is a Kit mounted on a test server, with a client that does not
// follow redirects so the tests can read them.
type harness struct {
	t      *testing.T
	kit    *Kit
	clock  *Clock
	srv    *httptest.Server
	client *http.Client
}

func newHarness(t *testing.T, o Options) *harness {
	t.Helper()
	clock := NewClock(t0)
	o.Now = clock.Now
	k := New(o)
	mux := http.NewServeMux()
	k.Routes(mux, OAuthPaths{Authorize: "/oauth/authorize", Token: "/oauth/token"})
	mux.HandleFunc("GET /api", func(w http.ResponseWriter, r *http.Request) {
		if c, ok := k.Guard(w, r); ok {
			WriteJSON(w, 200, map[string]any{"account": c.Account, "scopes": c.Scopes})
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &harness{t: t, kit: k, clock: clock, srv: srv, client: client}
}

func (h *harness) authorizeURL(extra url.Values) string {
	q := url.Values{"client_id": {"cid"}, "redirect_uri": {redirect}, "scope": {"read write"}, "state": {"st-1"}}
	for k, v := range extra {
		q[k] = v
	}
	return h.srv.URL + "/oauth/authorize?" + q.Encode()
}

// decide posts the consent form and returns the redirect's query.
func (h *harness) decide(authURL string, form url.Values) (int, url.Values) {
	h.t.Helper()
	resp, err := h.client.PostForm(authURL, form)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return resp.StatusCode, nil
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		h.t.Fatal(err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != redirect {
		h.t.Fatalf("redirected to %s", got)
	}
	return resp.StatusCode, loc.Query()
}

func (h *harness) token(form url.Values) (int, map[string]any) {
	h.t.Helper()
	resp, err := h.client.PostForm(h.srv.URL+"/oauth/token", form)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

func (h *harness) control(method, path string, body string) (int, map[string]any) {
	h.t.Helper()
	req, _ := http.NewRequest(method, h.srv.URL+"/_control/"+path, strings.NewReader(body))
	resp, err := h.client.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func (h *harness) api(token string) int {
	h.t.Helper()
	req, _ := http.NewRequest("GET", h.srv.URL+"/api", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := h.client.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func s256(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func TestConsentPage(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{Name: "Acme CRM", ClientID: "cid", RedirectURIs: []string{redirect},
		Scopes: []Scope{{Name: "read", Description: "Read your <records>"}}})
	cases := []struct {
		name       string
		url        string
		wantStatus int
		wantBody   []string
	}{
		{"lists scopes in a post form", h.authorizeURL(nil), 200,
			[]string{`<form method="post">`, "Acme CRM", `value="read"`, "Read your &lt;records&gt;", `value="write"`, `name="decision" value="approve"`, `value="acct-demo"`}},
		{"unknown client", h.authorizeURL(url.Values{"client_id": {"other"}}), 400, []string{"client_id"}},
		{"unregistered redirect", h.authorizeURL(url.Values{"redirect_uri": {"https://evil.example/cb"}}), 400, []string{"redirect_uri"}},
		{"bad pkce method", h.authorizeURL(url.Values{"code_challenge": {"x"}, "code_challenge_method": {"S512"}}), 400, []string{"code_challenge_method"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			resp, err := h.client.Get(c.url)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != c.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.wantStatus, b)
			}
			for _, want := range c.wantBody {
				if !strings.Contains(string(b), want) {
					t.Errorf("page lacks %q:\n%s", want, b)
				}
			}
		})
	}
}

func TestAuthorizationCodeFlow(t *testing.T) {
	t.Parallel()
	const verifier = "a-verifier-that-is-long-enough-for-pkce-0123456789"
	cases := []struct {
		name       string
		authExtra  url.Values
		form       url.Values
		tokenForm  func(code string) url.Values
		wantStatus int
		wantError  string
		wantScopes string
		wantAcct   string
	}{
		{
			name:      "approve with PKCE, subset and account",
			authExtra: url.Values{"code_challenge": {s256(verifier)}, "code_challenge_method": {"S256"}},
			form:      url.Values{"decision": {"approve"}, "account": {"acct-b"}, "scope": {"read"}},
			tokenForm: func(code string) url.Values {
				return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect},
					"client_id": {"cid"}, "client_secret": {"sec"}, "code_verifier": {verifier}}
			},
			wantStatus: 200, wantScopes: "read", wantAcct: "acct-b",
		},
		{
			name: "approve everything as the default account",
			form: url.Values{"decision": {"approve"}},
			tokenForm: func(code string) url.Values {
				return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect},
					"client_id": {"cid"}, "client_secret": {"sec"}}
			},
			wantStatus: 200, wantScopes: "read write", wantAcct: "acct-demo",
		},
		{
			name:      "wrong verifier",
			authExtra: url.Values{"code_challenge": {s256(verifier)}, "code_challenge_method": {"S256"}},
			form:      url.Values{"decision": {"approve"}},
			tokenForm: func(code string) url.Values {
				return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect},
					"client_id": {"cid"}, "client_secret": {"sec"}, "code_verifier": {"something-else"}}
			},
			wantStatus: 400, wantError: "invalid_grant",
		},
		{
			name:      "missing verifier",
			authExtra: url.Values{"code_challenge": {s256(verifier)}, "code_challenge_method": {"S256"}},
			form:      url.Values{"decision": {"approve"}},
			tokenForm: func(code string) url.Values {
				return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect},
					"client_id": {"cid"}, "client_secret": {"sec"}}
			},
			wantStatus: 400, wantError: "invalid_grant",
		},
		{
			name: "verifier for a code issued without a challenge (PKCE downgrade)",
			form: url.Values{"decision": {"approve"}},
			tokenForm: func(code string) url.Values {
				return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect},
					"client_id": {"cid"}, "client_secret": {"sec"}, "code_verifier": {verifier}}
			},
			wantStatus: 400, wantError: "invalid_grant",
		},
		{
			name: "other redirect uri",
			form: url.Values{"decision": {"approve"}},
			tokenForm: func(code string) url.Values {
				return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect + "x"},
					"client_id": {"cid"}, "client_secret": {"sec"}}
			},
			wantStatus: 400, wantError: "invalid_grant",
		},
		{
			name: "wrong secret",
			form: url.Values{"decision": {"approve"}},
			tokenForm: func(code string) url.Values {
				return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect},
					"client_id": {"cid"}, "client_secret": {"nope"}}
			},
			wantStatus: 401, wantError: "invalid_client",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, Options{ClientID: "cid", ClientSecret: "sec", RedirectURIs: []string{redirect}})
			status, q := h.decide(h.authorizeURL(c.authExtra), c.form)
			if status != http.StatusFound || q.Get("state") != "st-1" || q.Get("code") == "" {
				t.Fatalf("decision: %d %v", status, q)
			}
			status, body := h.token(c.tokenForm(q.Get("code")))
			if status != c.wantStatus {
				t.Fatalf("token: %d %v", status, body)
			}
			if c.wantError != "" {
				if body["error"] != c.wantError {
					t.Errorf("error = %v, want %s", body["error"], c.wantError)
				}
				return
			}
			if body["scope"] != c.wantScopes || body["token_type"] != "bearer" || body["refresh_token"] == "" || body["expires_in"] != float64(3600) {
				t.Errorf("token body = %v", body)
			}
			if info, f := h.kit.Introspect(body["access_token"].(string)); f != "" || info.Account != c.wantAcct {
				t.Errorf("introspect = %+v %q", info, f)
			}
			// Codes are single use.
			if status, body := h.token(c.tokenForm(q.Get("code"))); status != 400 || body["error"] != "invalid_grant" {
				t.Errorf("second exchange: %d %v", status, body)
			}
		})
	}
}

func TestDenyAndCodeExpiry(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{})
	status, q := h.decide(h.authorizeURL(nil), url.Values{"decision": {"deny"}})
	if status != http.StatusFound || q.Get("error") != "access_denied" || q.Get("state") != "st-1" || q.Get("code") != "" {
		t.Fatalf("deny: %d %v", status, q)
	}
	if status, _ := h.decide(h.authorizeURL(nil), url.Values{"decision": {"maybe"}}); status != 400 {
		t.Errorf("unknown decision: %d", status)
	}
	if status, _ := h.decide(h.authorizeURL(nil), url.Values{"decision": {"approve"}, "account": {"bad id!"}}); status != 400 {
		t.Errorf("bad account id: %d", status)
	}
	_, q = h.decide(h.authorizeURL(nil), url.Values{"decision": {"approve"}})
	h.clock.Advance(codeTTL + time.Second)
	status, body := h.token(url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {redirect}})
	if status != 400 || body["error"] != "invalid_grant" {
		t.Errorf("expired code: %d %v", status, body)
	}
	if s := h.kit.Stats(); s.Denials != 1 || s.Authorizations != 1 {
		t.Errorf("stats = %+v", s)
	}
}

func TestRefresh(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		rotate bool
	}{{"rotating", true}, {"stable", false}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, Options{RotateRefreshTokens: c.rotate, AccessTTL: 30 * time.Minute})
			first := h.kit.IssueToken("acct-demo", []string{"read"})
			refresh := func(rt string) (int, map[string]any) {
				return h.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
			}
			status, body := refresh(first.RefreshToken)
			if status != 200 || body["access_token"] == first.AccessToken || body["expires_in"] != float64(1800) {
				t.Fatalf("refresh: %d %v", status, body)
			}
			next := body["refresh_token"].(string)
			if rotated := next != first.RefreshToken; rotated != c.rotate {
				t.Fatalf("rotated = %v", rotated)
			}
			// The old access token stays valid until it expires.
			if got := h.api(first.AccessToken); got != 200 {
				t.Errorf("old access token: %d", got)
			}
			again, againBody := refresh(first.RefreshToken)
			wantReused := int64(0)
			if c.rotate {
				wantReused = 1
				if again != 400 || againBody["error"] != "invalid_grant" {
					t.Errorf("reused refresh token: %d %v", again, againBody)
				}
			} else if again != 200 {
				t.Errorf("stable refresh token refused: %d %v", again, againBody)
			}
			s := h.kit.Stats()
			if s.RefreshTokensReused != wantReused || s.TokensIssued != 1 || s.Accounts["acct-demo"].TokensRefreshed != s.TokensRefreshed {
				t.Errorf("stats = %+v", s)
			}
			// Expire: access dies, refresh still works; revoke: both die.
			h.kit.Expire("acct-demo")
			if got := h.api(body["access_token"].(string)); got != 401 {
				t.Errorf("expired access token: %d", got)
			}
			status, body = refresh(next)
			if status != 200 {
				t.Fatalf("refresh after expire: %d %v", status, body)
			}
			h.kit.Revoke("acct-demo")
			if got := h.api(body["access_token"].(string)); got != 401 {
				t.Errorf("revoked access token: %d", got)
			}
			if status, body := refresh(body["refresh_token"].(string)); status != 400 || body["error"] != "invalid_grant" {
				t.Errorf("revoked refresh token: %d %v", status, body)
			}
		})
	}
}

func TestTokenEndpointEdges(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{ClientID: "cid", ClientSecret: "s&c=t"})
	ts := h.kit.IssueToken("acct-demo", nil)
	cases := []struct {
		name       string
		form       url.Values
		basic      bool
		outage     bool
		wantStatus int
		wantError  string
	}{
		{"basic auth accepted", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {ts.RefreshToken}}, true, false, 200, ""},
		{"unknown grant", url.Values{"grant_type": {"password"}, "client_id": {"cid"}, "client_secret": {"s&c=t"}}, false, false, 400, "unsupported_grant_type"},
		{"unknown client", url.Values{"grant_type": {"refresh_token"}, "client_id": {"x"}}, false, false, 401, "invalid_client"},
		{"unknown refresh token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"nope"}, "client_id": {"cid"}, "client_secret": {"s&c=t"}}, false, false, 400, "invalid_grant"},
		{"outage", url.Values{"grant_type": {"refresh_token"}}, false, true, 503, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h.kit.SetOutage(c.outage)
			req, _ := http.NewRequest("POST", h.srv.URL+"/oauth/token", strings.NewReader(c.form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if c.basic {
				req.SetBasicAuth("cid", url.QueryEscape("s&c=t")) // as golang.org/x/oauth2 sends it
			}
			resp, err := h.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != c.wantStatus || (c.wantError != "" && body["error"] != c.wantError) {
				t.Errorf("%d %v", resp.StatusCode, body)
			}
		})
	}
}

func TestControlSurface(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{Scopes: []Scope{{Name: "read"}, {Name: "write"}}, Objects: []string{"contacts"}})

	status, tok := h.control("POST", "token", `{"account":"acct-x","scopes":["read"]}`)
	if status != 200 || tok["access_token"] == "" || tok["refresh_token"] == "" || tok["expires_in"] != float64(3600) || tok["account"] != "acct-x" {
		t.Fatalf("token: %d %v", status, tok)
	}
	access := tok["access_token"].(string)
	_, all := h.control("POST", "token", `{}`)
	if scopes := all["scopes"].([]any); len(scopes) != 2 || all["account"] != "acct-demo" {
		t.Errorf("default token = %v", all)
	}

	steps := []struct {
		name       string
		method     string
		path, body string
		wantStatus int
		apiStatus  int // status of an API call with access afterwards
	}{
		{"outage on", "POST", "outage", `{"on":true}`, 200, 503},
		{"outage off", "POST", "outage", `{"on":false}`, 200, 200},
		{"tighten to 1/s", "POST", "rate_limit", `{"per_second":1}`, 200, 200},
		{"second call in the same second", "GET", "stats", ``, 200, 429},
		{"restore", "POST", "rate_limit", `{"per_second":0}`, 200, 200},
		{"expire", "POST", "expire", `{"account":"acct-x"}`, 200, 401},
		{"bad json", "POST", "revoke", `{`, 400, 401},
		{"unknown object", "GET", "records?object=deals", ``, 400, 401},
	}
	for _, s := range steps {
		status, out := h.control(s.method, s.path, s.body)
		if status != s.wantStatus {
			t.Fatalf("%s: %d %v", s.name, status, out)
		}
		if got := h.api(access); got != s.apiStatus {
			t.Fatalf("%s: API answered %d, want %d", s.name, got, s.apiStatus)
		}
	}

	status, out := h.control("POST", "records", `{"account":"acct-x","object":"contacts","records":[{"email":"a@x.com"},{"id":"900","properties":{"email":"b@x.com"}}]}`)
	if status != 200 || len(out["records"].([]any)) != 2 {
		t.Fatalf("seed: %d %v", status, out)
	}
	status, out = h.control("GET", "records?account=acct-x&object=contacts", "")
	recs := out["records"].([]any)
	if status != 200 || len(recs) != 2 || recs[1].(map[string]any)["id"] != "900" || recs[0].(map[string]any)["fields"].(map[string]any)["email"] != "a@x.com" {
		t.Fatalf("list: %d %v", status, out)
	}
	status, out = h.control("GET", "stats", "")
	if status != 200 || out["tokens_issued"] != float64(2) || out["rate_limited"] != float64(1) || out["over_limit"] != float64(0) || out["accounts"].(map[string]any)["acct-x"] == nil {
		t.Errorf("stats: %d %v", status, out)
	}
}

func TestAPIKeys(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{APIKeys: true, TokenPrefix: "dp_"})
	h.kit.AddToken("acct-demo", "demo-key", nil)
	_, tok := h.control("POST", "token", `{"account":"acct-k"}`)
	key, _ := tok["access_token"].(string)
	if !strings.HasPrefix(key, "dp_") || tok["refresh_token"] != nil || tok["expires_in"] != nil {
		t.Fatalf("api key token = %v", tok)
	}
	h.clock.Advance(1000 * time.Hour)
	for _, k := range []string{key, "demo-key"} {
		if got := h.api(k); got != 200 {
			t.Errorf("key %s after a long time: %d", k, got)
		}
	}
	h.kit.Revoke("acct-k")
	if got := h.api(key); got != 401 {
		t.Errorf("revoked key: %d", got)
	}
}
