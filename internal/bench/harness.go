package bench

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
	"time"

	"patchbay/internal/app"
	"patchbay/internal/catalog"
	"patchbay/internal/config"
	"patchbay/internal/connector"
	"patchbay/internal/enrich"
	"patchbay/internal/store"
)

// token is the admin API token of the default workspace of every instance.
const token = "bench-token-0123456789abcdef"

// instance is one Patchbay process started in this one: a fresh SQLite
// store in a temporary folder, its fakes mounted on its own loopback
// listener, serving until close.
type instance struct {
	app   *app.App
	url   string
	fakes map[string]app.Fake
	http  *http.Client // does not follow redirects

	dir    string
	cancel context.CancelFunc
	done   chan error
}

// setup tunes an instance.
type setup struct {
	fakes      map[string]app.Fake // nil: app.DemoFakes()
	connectors *connector.Registry
	catalog    func(*catalog.Catalog) *catalog.Catalog
	enrich     func(*enrich.Config)
}

func start(ctx context.Context, s setup) (*instance, error) {
	dir, err := os.MkdirTemp("", "patchbay-bench-")
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	env := map[string]string{"PATCHBAY_BOOTSTRAP_TOKEN": token, "PATCHBAY_DATA": dir, "PATCHBAY_LOG_LEVEL": "error",
		"PATCHBAY_ALLOW_PRIVATE_NETWORKS": "true", // the fakes are on loopback
		"PATCHBAY_ADDR":                   ln.Addr().String()}
	cfg, err := config.Load(flag.NewFlagSet("bench", flag.ContinueOnError), nil, func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}, app.OAuthProviders())
	if err != nil {
		ln.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	if s.fakes == nil {
		s.fakes = app.DemoFakes()
	}
	base := "http://" + ln.Addr().String()
	runCtx, cancel := context.WithCancel(ctx)
	a, err := app.New(runCtx, cfg, app.Options{BaseURL: base, Fakes: s.fakes, Logger: app.NewLogger(io.Discard, "error"),
		Connectors: s.connectors, Catalog: s.catalog, Enrich: s.enrich})
	if err != nil {
		cancel()
		ln.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	in := &instance{app: a, url: base, fakes: s.fakes, dir: dir, cancel: cancel, done: make(chan error, 1),
		http: &http.Client{Timeout: time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	go func() { in.done <- a.Serve(runCtx, ln) }()
	if err := a.Store.SetPlan(ctx, app.DefaultWorkspace, catalog.TierPremium); err != nil {
		in.close()
		return nil, err
	}
	return in, nil
}

// close stops the instance and removes its data.
func (in *instance) close() {
	in.cancel()
	<-in.done
	in.app.Close()
	in.http.CloseIdleConnections()
	os.RemoveAll(in.dir)
}

// do sends an API request with the admin token and decodes a 2xx JSON answer into out.
func (in *instance) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, in.url+"/api/v1"+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := in.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, data)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// connectOAuth connects provider as account through the fake's consent
// page, as a user would, and returns the connection id.
func (in *instance) connectOAuth(ctx context.Context, provider, account string, cfg map[string]string) (string, error) {
	var out struct {
		AuthorizeURL string `json:"authorize_url"`
	}
	if err := in.do(ctx, http.MethodPost, "/connections", map[string]any{"provider": provider, "config": cfg}, &out); err != nil {
		return "", err
	}
	form := url.Values{"decision": {"approve"}, "account": {account}}
	resp, err := in.http.PostForm(out.AuthorizeURL, form)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if loc == "" {
		return "", fmt.Errorf("connect %s: consent answered %d without a redirect", provider, resp.StatusCode)
	}
	resp, err = in.http.Get(loc)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	u, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusSeeOther || u.Query().Get("connection") == "" {
		return "", fmt.Errorf("connect %s: callback answered %d, redirect %q", provider, resp.StatusCode, resp.Header.Get("Location"))
	}
	return u.Query().Get("connection"), nil
}

// table creates a table of text columns.
func (in *instance) table(ctx context.Context, cols ...string) (string, error) {
	tb := &store.Table{WorkspaceID: app.DefaultWorkspace, Name: "bench " + store.NewID("t")}
	for _, c := range cols {
		tb.Columns = append(tb.Columns, store.Column{Name: c, Type: "text"})
	}
	err := in.app.Store.InTx(ctx, func(tx *store.Tx) error { return tx.CreateTable(ctx, tb) })
	return tb.ID, err
}

// fillTable inserts n rows made by row, in transactions of 5,000 rows.
func (in *instance) fillTable(ctx context.Context, tableID string, n int, row func(i int) map[string]any) error {
	const chunk = 5000
	for start := 0; start < n; start += chunk {
		err := in.app.Store.InTx(ctx, func(tx *store.Tx) error {
			for i := start; i < min(start+chunk, n); i++ {
				if err := tx.InsertRow(ctx, &store.Row{TableID: tableID, Values: row(i)}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("fill table: %w", err)
		}
	}
	return nil
}

// createSync stores a manual, full sync.
func (in *instance) createSync(ctx context.Context, y *store.Sync) error {
	y.WorkspaceID, y.Mode, y.Schedule = app.DefaultWorkspace, "full", "manual"
	return in.app.Store.InTx(ctx, func(tx *store.Tx) error { return tx.CreateSync(ctx, y) })
}

// fakeOf returns the fake of a provider as its concrete type.
func fakeOf[T any](in *instance, provider string) (T, error) {
	f, ok := in.fakes[provider].Handler.(T)
	if !ok {
		var zero T
		return zero, fmt.Errorf("no %s fake of type %T", provider, zero)
	}
	return f, nil
}
