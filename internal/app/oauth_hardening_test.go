package app_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"patchbay/internal/app/apptest"
	fakehubspot "patchbay/internal/fakes/hubspot"
	"patchbay/internal/web"
)

// startFlow starts a HubSpot connect with token and returns the authorize URL.
func startFlow(t *testing.T, e *apptest.Env, token string) (string, string) {
	t.Helper()
	var out struct {
		Connection   apptest.Connection `json:"connection"`
		AuthorizeURL string             `json:"authorize_url"`
	}
	if st, body := e.DoAs(token, "POST", "/connections", map[string]any{"provider": "hubspot"}, &out); st != 201 {
		t.Fatalf("connect: %d %s", st, body)
	}
	return out.AuthorizeURL, out.Connection.ID
}

// approve plays the user at the consent page and returns the callback URL it redirects to.
func approve(t *testing.T, e *apptest.Env, authorizeURL, account string) string {
	t.Helper()
	resp, err := e.HTTP.PostForm(authorizeURL, url.Values{"decision": {"approve"}, "account": {account}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("consent: %d", resp.StatusCode)
	}
	return resp.Header.Get("Location")
}

// sessionCookie signs in to the dashboard with token.
func sessionCookie(t *testing.T, e *apptest.Env, token string) *http.Cookie {
	t.Helper()
	link, err := web.NewLoginLink(t.Context(), e.Store(), token, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := e.HTTP.Get(e.URL + link)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Value != "" {
			return c
		}
	}
	t.Fatalf("login link: %d without a session cookie", resp.StatusCode)
	return nil
}

// loginForm posts the sign-in form the way a browser does: with the login
// form's CSRF cookie and field.
func loginForm(t *testing.T, e *apptest.Env, query string, form url.Values) *http.Response {
	t.Helper()
	resp, err := e.HTTP.Get(e.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	req, _ := http.NewRequest("POST", e.URL+"/login?"+query, nil)
	for _, c := range resp.Cookies() {
		req.AddCookie(c)
		if c.Name == "patchbay_login_csrf" {
			form.Set("csrf_token", c.Value)
		}
	}
	req.Body = io.NopCloser(strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = e.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func getWith(t *testing.T, e *apptest.Env, u string, c *http.Cookie) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	if c != nil {
		req.AddCookie(c)
	}
	resp, err := e.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if loc := resp.Header.Get("Location"); loc != "" {
		return resp.StatusCode, loc
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestOAuthHardening(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	var m struct {
		UserID string `json:"user_id"`
	}
	e.MustDo(201, "POST", "/workspace/members", map[string]any{"email": "ada@example.com", "role": "admin"}, &m)
	var tok struct {
		Token string `json:"token"`
	}
	e.MustDo(201, "POST", "/tokens", map[string]any{"name": "ada", "user_id": m.UserID, "role": "admin"}, &tok)
	ada := tok.Token

	t.Run("PKCE S256 and the exact callback", func(t *testing.T) {
		au, _ := startFlow(t, e, apptest.Token)
		u, _ := url.Parse(au)
		q := u.Query()
		if q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) < 43 || q.Get("redirect_uri") != e.URL+"/oauth/callback" {
			t.Fatalf("authorize URL %s", au)
		}
		for _, evil := range []string{"http://evil.example/oauth/callback", e.URL + "/oauth/callback/", e.URL + "/oauth/callback?x=1", strings.Replace(e.URL, "http:", "https:", 1) + "/oauth/callback"} {
			q.Set("redirect_uri", evil)
			u.RawQuery = q.Encode()
			if st, body := e.Get(u.String()); st != http.StatusBadRequest || !strings.Contains(body, "redirect_uri") {
				t.Errorf("the provider accepted redirect_uri %s: %d %s", evil, st, body)
			}
		}
	})

	t.Run("state bound to who started the flow", func(t *testing.T) {
		au, id := startFlow(t, e, ada)
		cb := approve(t, e, au, "bound-1")
		// Finished in a browser signed in as someone else: refused, nothing connected.
		st, body := getWith(t, e, cb, sessionCookie(t, e, apptest.Token))
		if st != http.StatusBadRequest || !strings.Contains(body, "started by someone else") {
			t.Fatalf("callback in another session: %d %s", st, body)
		}
		if c := e.Connection(id); c.Status != "not_connected" {
			t.Fatalf("connection after a refused callback: %s", c.Status)
		}
		// Finished by the person who started it: connected; a replay is refused.
		au, _ = startFlow(t, e, ada)
		cb = approve(t, e, au, "bound-2")
		if st, loc := getWith(t, e, cb, sessionCookie(t, e, ada)); st != http.StatusSeeOther || !strings.HasPrefix(loc, "/oauth/done?") {
			t.Fatalf("callback in the starter's session: %d %s", st, loc)
		}
		if st, body := getWith(t, e, cb, sessionCookie(t, e, ada)); st != http.StatusBadRequest || !strings.Contains(body, "already used") {
			t.Fatalf("replayed callback: %d %s", st, body)
		}
		// A browser without a session (the CLI prints the link) still finishes
		// the flow: the single-use state is then the binding.
		au, _ = startFlow(t, e, ada)
		if st, loc := e.Get(approve(t, e, au, "bound-3")); st != http.StatusSeeOther {
			t.Fatalf("callback without a session: %d %s", st, loc)
		}
	})

	t.Run("a code from another provider", func(t *testing.T) {
		// Another OAuth server (same client registration, same paths) issues a
		// code for Patchbay's own callback and state.
		other := httptest.NewServer(fakehubspot.New(fakehubspot.Options{ClientID: "patchbay-demo", ClientSecret: "patchbay-demo-secret"}))
		defer other.Close()
		au, id := startFlow(t, e, apptest.Token)
		u, _ := url.Parse(au)
		o, _ := url.Parse(other.URL)
		u.Scheme, u.Host = o.Scheme, o.Host
		u.Path = strings.TrimPrefix(u.Path, "/_fakes/hubspot")
		cb := approve(t, e, u.String(), "wrong-provider")
		st, body := e.Get(cb)
		if st != http.StatusUnprocessableEntity || !strings.Contains(body, "exchange the authorization code") {
			t.Fatalf("foreign code: %d %s", st, body)
		}
		if c := e.Connection(id); c.Status != "not_connected" {
			t.Fatalf("connection after a foreign code: %s", c.Status)
		}
		if _, err := e.Store().Credential(t.Context(), id); err == nil {
			t.Fatal("credentials stored for a foreign code")
		}
	})

	t.Run("no open redirect after the callback", func(t *testing.T) {
		hostile := url.Values{"redirect": {"https://evil.example/"}, "next": {"//evil.example"}, "return_to": {"javascript:alert(1)"},
			"redirect_uri": {"https://evil.example/cb"}}
		au, _ := startFlow(t, e, apptest.Token)
		cb := approve(t, e, au, "redir")
		st, loc := e.Get(cb + "&" + hostile.Encode())
		if st != http.StatusSeeOther || !strings.HasPrefix(loc, "/oauth/done?connection=") || strings.Contains(loc, "evil") || strings.Contains(loc, "javascript") {
			t.Fatalf("callback redirect: %d %s", st, loc)
		}
		// The failure page links home, whatever the query says.
		st, body := e.Get(e.URL + "/oauth/callback?state=forged&code=x&" + hostile.Encode())
		if st != http.StatusBadRequest || strings.Contains(body, "evil") || strings.Contains(body, "javascript:") {
			t.Fatalf("failure page: %d %s", st, body)
		}
		// Signing in lands on the dashboard, never on a given target.
		resp := loginForm(t, e, hostile.Encode(), url.Values{"token": {apptest.Token}, "next": {"https://evil.example/"}})
		if loc := resp.Header.Get("Location"); loc != "/" {
			t.Fatalf("login redirect %q", loc)
		}
	})
}

// Without PATCHBAY_ALLOW_PRIVATE_NETWORKS, a user-given endpoint on an inside
// address is refused at dial time with an error that names the field.
func TestPrivateEndpointRefused(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{Env: map[string]string{"PATCHBAY_ALLOW_PRIVATE_NETWORKS": "false"}})
	for _, endpoint := range []string{e.URL + "/_fakes/dataprovider", "http://169.254.169.254/latest", "http://[::1]:1/"} {
		st, body := e.Do("POST", "/connections", map[string]any{"provider": "dataprovider", "api_key": "dp_demo_key",
			"config": map[string]string{"endpoint_url": endpoint}}, nil)
		if st != http.StatusUnprocessableEntity || !strings.Contains(body, "config.endpoint_url") || !strings.Contains(body, "PATCHBAY_ALLOW_PRIVATE_NETWORKS") {
			t.Errorf("%s: %d %s", endpoint, st, body)
		}
	}
	if conns, _ := e.Store().ListConnections(t.Context(), "default"); len(conns) != 0 {
		t.Fatalf("%d connections stored", len(conns))
	}
}
