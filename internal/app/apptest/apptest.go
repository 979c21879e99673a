// Package apptest starts a whole Patchbay process for tests: real SQLite (or
// PostgreSQL) store, real HTTP listener, the provider fakes mounted on it,
// and helpers that play the API client and the user at a consent page.
package apptest

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"patchbay/internal/app"
	"patchbay/internal/catalog"
	"patchbay/internal/config"
	"patchbay/internal/connector"
	"patchbay/internal/enrich"
	"patchbay/internal/store"
)

// Token is the admin API token of the default workspace.
const Token = "test-token-0123456789abcdef"

// Env is a running Patchbay with its fakes.
type Env struct {
	T     testing.TB
	App   *app.App
	URL   string // base URL, no trailing slash
	Fakes map[string]app.Fake
	HTTP  *http.Client // does not follow redirects
	// Transcript, when set, is given every API answer body (secret scans).
	Transcript func(body []byte)
}

// StoreEnv names the environment variable that picks the store of every Env
// whose Options.Database is empty: "postgres" runs it on a fresh schema of
// PATCHBAY_TEST_DATABASE_URL (skipped when that is unset), anything else on
// SQLite. `make test` runs the app tests once with each, so the same tests
// pass on both stores.
const StoreEnv = "PATCHBAY_TEST_STORE"

// Options tune Start.
type Options struct {
	// Database is a postgres:// URL; empty means the store StoreEnv picks
	// (SQLite in a temp folder by default).
	Database string
	// Fakes replace the demo fakes (nil: app.DemoFakes()).
	Fakes func() map[string]app.Fake
	// Env adds PATCHBAY_* settings.
	Env map[string]string
	// Connectors replaces the built-in connector registry.
	Connectors *connector.Registry
	// Catalog adjusts the catalog (rate limits, page sizes).
	Catalog func(*catalog.Catalog) *catalog.Catalog
	// Log, when set, receives the process's log at debug level (JSON lines).
	Log io.Writer
	// Enrich tunes the enrichment service.
	Enrich func(*enrich.Config)
}

// Start runs a Patchbay for the test and stops it at cleanup.
func Start(t testing.TB, o Options) *Env {
	t.Helper()
	dir := t.TempDir()
	env := map[string]string{"PATCHBAY_BOOTSTRAP_TOKEN": Token, "PATCHBAY_DATA": dir, "PATCHBAY_LOG_LEVEL": "warn",
		"PATCHBAY_ALLOW_PRIVATE_NETWORKS": "true"} // the fakes are on loopback
	if o.Database == "" && os.Getenv(StoreEnv) == store.Postgres {
		o.Database = store.TestDSN(t, store.Postgres)
	}
	if o.Database != "" {
		env["PATCHBAY_DATABASE_URL"] = o.Database
	}
	for k, v := range o.Env {
		env[k] = v
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	env["PATCHBAY_ADDR"] = ln.Addr().String()
	cfg, err := config.Load(flag.NewFlagSet("test", flag.ContinueOnError), nil, func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}, app.OAuthProviders())
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	mk := o.Fakes
	if mk == nil {
		mk = app.DemoFakes
	}
	fakes := mk()
	ctx, cancel := context.WithCancel(context.Background())
	logger := app.NewLogger(io.Discard, "error")
	if o.Log != nil {
		logger = app.NewLogger(o.Log, "debug")
	}
	a, err := app.New(ctx, cfg, app.Options{BaseURL: base, Fakes: fakes, Logger: logger, Connectors: o.Connectors, Catalog: o.Catalog, Enrich: o.Enrich})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		a.Close()
	})
	return &Env{T: t, App: a, URL: base, Fakes: fakes, HTTP: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// SQLitePath is the database file of an SQLite-backed Env.
func (e *Env) SQLitePath() string { return filepath.Join(e.App.Config.DataDir, "patchbay.db") }

// RawData returns everything the store holds as bytes, for tests that look
// for secrets stored in clear: on SQLite the database file with its
// write-ahead log (after a checkpoint, so deleted secrets must be gone from
// the file too); on PostgreSQL every row of every table of the Env's schema
// as text (bytea columns appear hex-encoded).
func (e *Env) RawData() []byte {
	e.T.Helper()
	ctx := context.Background()
	st := e.Store()
	if st.Dialect() != store.Postgres {
		if err := st.Checkpoint(ctx); err != nil {
			e.T.Fatal(err)
		}
		var all []byte
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if b, err := os.ReadFile(e.SQLitePath() + suffix); err == nil {
				all = append(all, b...)
			}
		}
		return all
	}
	b, err := st.DumpText(ctx)
	if err != nil {
		e.T.Fatal(err)
	}
	return b
}

// Store is the process's store.
func (e *Env) Store() *store.Store { return e.App.Store }

// Do sends a request with the admin token and decodes a JSON answer into out
// (when non-nil). It returns the status and the raw body.
func (e *Env) Do(method, path string, body, out any) (int, string) {
	e.T.Helper()
	return e.DoAs(Token, method, path, body, out)
}

// DoAs is Do with another API token.
func (e *Env) DoAs(token, method, path string, body, out any) (int, string) {
	e.T.Helper()
	var rd io.Reader
	if raw, ok := body.([]byte); ok {
		rd = bytes.NewReader(raw) // sent as it is, for bodies JSON cannot encode
	} else if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			e.T.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	u := path
	if !strings.HasPrefix(path, "http") {
		u = e.URL + "/api/v1" + path
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		e.T.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.HTTP.Do(req)
	if err != nil {
		e.T.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if e.Transcript != nil {
		e.Transcript(data)
	}
	if out != nil && len(data) > 0 && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			e.T.Fatalf("%s %s: decode %q: %v", method, path, data, err)
		}
	}
	return resp.StatusCode, string(data)
}

// MustDo is Do that fails the test unless the status is want.
func (e *Env) MustDo(want int, method, path string, body, out any) string {
	e.T.Helper()
	st, text := e.Do(method, path, body, out)
	if st != want {
		e.T.Fatalf("%s %s: status %d, want %d: %s", method, path, st, want, text)
	}
	return text
}

// Consent plays the user at a fake's consent page: GET the page, POST the
// decision, then follow the redirect into Patchbay's callback. It returns the
// callback's status and body; on success the body is the redirect target.
func (e *Env) Consent(authorizeURL string, form url.Values) (int, string) {
	e.T.Helper()
	resp, err := e.HTTP.Get(authorizeURL)
	if err != nil {
		e.T.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(bytes.ToLower(page), []byte("<form")) {
		e.T.Fatalf("consent page: %d %s", resp.StatusCode, page)
	}
	if form.Get("decision") == "" {
		form.Set("decision", "approve")
	}
	resp, err = e.HTTP.PostForm(authorizeURL, form)
	if err != nil {
		e.T.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther || loc == "" {
		e.T.Fatalf("consent POST: %d, Location %q", resp.StatusCode, loc)
	}
	return e.Get(loc)
}

// Get fetches a URL without the API token or following redirects. For a
// redirect it returns the Location instead of the body.
func (e *Env) Get(u string) (int, string) {
	e.T.Helper()
	resp, err := e.HTTP.Get(u)
	if err != nil {
		e.T.Fatal(err)
	}
	defer resp.Body.Close()
	if loc := resp.Header.Get("Location"); loc != "" {
		return resp.StatusCode, loc
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Connection is the part of the connection JSON tests look at.
type Connection struct {
	ID       string `json:"id"`
	Provider string `json:"provider"`
	Status   string `json:"status"`
	Reason   string `json:"reason"`
	Health   string `json:"health"`
	Account  struct {
		ID    string `json:"id"`
		Name  string `json:"name"`
		Email string `json:"email"`
	} `json:"account"`
	ScopesGranted   []string `json:"scopes_granted"`
	ScopesRequested []string `json:"scopes_requested"`
	ScopesAdded     []string `json:"scopes_added"`
	ScopesDropped   []string `json:"scopes_dropped"`
	ConnectedAt     *string  `json:"connected_at"`
	Syncs           []struct {
		ID          string `json:"id"`
		Paused      bool   `json:"paused"`
		PauseReason string `json:"pause_reason"`
	} `json:"syncs"`
	RecentRuns []struct {
		ID string `json:"id"`
	} `json:"recent_runs"`
}

// ConnectOAuth connects provider through the consent page as account
// (default account when empty) and returns the connection id.
func (e *Env) ConnectOAuth(provider, account string, config map[string]string, scopes ...string) string {
	e.T.Helper()
	var out struct {
		Connection   Connection `json:"connection"`
		AuthorizeURL string     `json:"authorize_url"`
	}
	e.MustDo(http.StatusCreated, "POST", "/connections", map[string]any{"provider": provider, "config": config, "scopes": scopes}, &out)
	form := url.Values{}
	if account != "" {
		form.Set("account", account)
	}
	st, loc := e.Consent(out.AuthorizeURL, form)
	if st != http.StatusSeeOther {
		e.T.Fatalf("callback: %d %s", st, loc)
	}
	// The callback may have brought back an earlier connection to the same
	// account; the redirect names the connection that holds the grant.
	u, err := url.Parse(loc)
	if err != nil || u.Query().Get("connection") == "" {
		e.T.Fatalf("callback redirect %q names no connection", loc)
	}
	return u.Query().Get("connection")
}

// Connection reads a connection's detail.
func (e *Env) Connection(id string) Connection {
	e.T.Helper()
	var c Connection
	e.MustDo(http.StatusOK, "GET", "/connections/"+id, nil, &c)
	return c
}

// Control calls a fake's control surface.
func (e *Env) Control(provider, what string, body any) string {
	e.T.Helper()
	b, _ := json.Marshal(body)
	resp, err := e.HTTP.Post(fmt.Sprintf("%s/_fakes/%s/_control/%s", e.URL, provider, what), "application/json", bytes.NewReader(b))
	if err != nil {
		e.T.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		e.T.Fatalf("control %s/%s: %d %s", provider, what, resp.StatusCode, data)
	}
	return string(data)
}
