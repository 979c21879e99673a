package web_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"patchbay/internal/app/apptest"
	"patchbay/internal/connection"
)

// browser is a cookie-keeping HTTP client that does not follow redirects.
type browser struct {
	t    testing.TB
	env  *apptest.Env
	http *http.Client
}

func newBrowser(t testing.TB, env *apptest.Env) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, env: env, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type page struct {
	status   int
	location string
	body     string
	header   http.Header
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.http.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(body), header: resp.Header}
}

func (b *browser) get(path string) page {
	b.t.Helper()
	req, err := http.NewRequest("GET", b.url(path), nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

func (b *browser) url(path string) string {
	if strings.HasPrefix(path, "http") {
		return path
	}
	return b.env.URL + path
}

// post sends a form as a browser would (Origin of the page it came from).
func (b *browser) post(path string, form url.Values, header map[string]string) page {
	b.t.Helper()
	req, err := http.NewRequest("POST", b.url(path), strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.env.URL)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return b.do(req)
}

var csrfMeta = regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)">`)

// login signs in with a one-time link and returns the page's CSRF token.
func (b *browser) login() string {
	b.t.Helper()
	link, err := b.env.App.LoginLink(context.Background())
	if err != nil {
		b.t.Fatal(err)
	}
	if p := b.get(link); p.status != http.StatusSeeOther || p.location != "/" {
		b.t.Fatalf("login link: %d %q", p.status, p.location)
	}
	return b.csrf()
}

func (b *browser) csrf() string {
	b.t.Helper()
	p := b.get("/")
	m := csrfMeta.FindStringSubmatch(p.body)
	if p.status != 200 || m == nil {
		b.t.Fatalf("integrations page: %d, no CSRF token: %.300s", p.status, p.body)
	}
	return m[1]
}

func TestLoginLinkWorksOnceAndStoresOnlyTheHash(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, apptest.Options{})
	b := newBrowser(t, env)
	link, err := env.App.LoginLink(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	p := b.get(link)
	if p.status != http.StatusSeeOther {
		t.Fatalf("login link: %d", p.status)
	}
	var cookie *http.Cookie
	for _, c := range (&http.Response{Header: p.header}).Cookies() {
		if c.Name == "patchbay_session" {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Path != "/" {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Lax, Path=/", cookie)
	}
	ctx := context.Background()
	if _, _, err := env.Store().SessionByHash(ctx, connection.HashToken(cookie.Value), timeNow()); err != nil {
		t.Fatalf("session not stored under the hash of the cookie: %v", err)
	}
	if _, _, err := env.Store().SessionByHash(ctx, cookie.Value, timeNow()); err == nil {
		t.Fatal("the raw session id is stored")
	}
	if p := newBrowser(t, env).get(link); p.status != http.StatusUnauthorized || !strings.Contains(p.body, "already used") {
		t.Fatalf("second use of the link: %d %.200s", p.status, p.body)
	}
	if p := b.get("/"); p.status != 200 || !strings.Contains(p.body, "Integrations") {
		t.Fatalf("dashboard after login: %d", p.status)
	}
}

func TestPagesNeedASession(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, apptest.Options{})
	b := newBrowser(t, env)
	for _, path := range []string{"/", "/connections/con_x", "/integrations/hubspot/connect"} {
		if p := b.get(path); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/login?next=") {
			t.Errorf("GET %s without session: %d %q", path, p.status, p.location)
		}
	}
	if p := b.post("/connections/con_x/test", url.Values{"csrf_token": {"x"}}, nil); p.status != http.StatusUnauthorized {
		t.Errorf("POST without session: %d", p.status)
	}
}

func TestFormPostsNeedTheSessionsCSRFToken(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, apptest.Options{})
	b := newBrowser(t, env)
	token := b.login()
	other := newBrowser(t, env)
	otherToken := other.login()
	cases := []struct {
		name   string
		form   url.Values
		header map[string]string
		want   int
	}{
		{"no token", url.Values{}, nil, http.StatusForbidden},
		{"wrong token", url.Values{"csrf_token": {"forged"}}, nil, http.StatusForbidden},
		{"another session's token", url.Values{"csrf_token": {otherToken}}, nil, http.StatusForbidden},
		{"right token from another site", url.Values{"csrf_token": {token}}, map[string]string{"Origin": "http://evil.example"}, http.StatusForbidden},
		{"right token in the form", url.Values{"csrf_token": {token}}, nil, http.StatusNotFound},
		{"right token in the header", url.Values{}, map[string]string{"X-CSRF-Token": token}, http.StatusNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// The connection does not exist: with a valid token the API answers 404.
			if p := b.post("/connections/con_missing/test", tc.form, tc.header); p.status != tc.want {
				t.Errorf("status %d, want %d: %.200s", p.status, tc.want, p.body)
			}
		})
	}
}

func TestLoginFormAndLogout(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, apptest.Options{})
	b := newBrowser(t, env)
	// Without the login page's double-submit cookie the form is refused.
	if p := b.post("/login", url.Values{"token": {apptest.Token}, "csrf_token": {"x"}}, nil); p.status != http.StatusForbidden {
		t.Fatalf("login without the form's cookie: %d", p.status)
	}
	p := b.get("/login?next=/integrations/hubspot/connect")
	m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("login form has no CSRF field: %.300s", p.body)
	}
	if p := b.post("/login", url.Values{"token": {"wrong"}, "csrf_token": {m[1]}}, nil); p.status != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", p.status)
	}
	p = b.get("/login")
	m = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(p.body)
	p = b.post("/login", url.Values{"token": {apptest.Token}, "csrf_token": {m[1]}, "next": {"//evil.example/"}}, nil)
	if p.status != http.StatusSeeOther || p.location != "/" {
		t.Fatalf("login: %d %q (an off-site next must fall back to /)", p.status, p.location)
	}
	token := b.csrf()
	// The session cookie never authenticates the JSON API: it keeps bearer tokens only.
	if p := b.get("/api/v1/integrations"); p.status != http.StatusUnauthorized {
		t.Fatalf("API with a session cookie only: %d", p.status)
	}
	env.MustDo(http.StatusOK, "GET", "/integrations", nil, nil)
	if p := b.post("/logout", url.Values{"csrf_token": {token}}, nil); p.status != http.StatusSeeOther || p.location != "/login" {
		t.Fatalf("logout: %d %q", p.status, p.location)
	}
	if p := b.get("/"); p.status != http.StatusSeeOther {
		t.Fatalf("after logout: %d", p.status)
	}
}

func TestSecurityHeadersAndNoInlineScript(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, apptest.Options{})
	b := newBrowser(t, env)
	b.login()
	for _, path := range []string{"/", "/login", "/integrations/hubspot/connect", "/oauth/done?connection=x"} {
		p := b.get(path)
		csp := p.header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		if regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]`).MatchString(p.body) || strings.Contains(p.body, " style=") || strings.Contains(p.body, " onclick=") {
			t.Errorf("%s has inline script or style", path)
		}
		for _, ref := range regexp.MustCompile(`(?:src|href)="(https?:)?//`).FindAllString(p.body, -1) {
			t.Errorf("%s loads something from another host: %s", path, ref)
		}
	}
}

func timeNow() time.Time { return time.Now() }
