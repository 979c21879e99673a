// Package app assembles a Patchbay process from its configuration: store,
// vault, catalog, connectors, services, HTTP routes and background work.
package app

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"patchbay/internal/api"
	"patchbay/internal/catalog"
	"patchbay/internal/config"
	"patchbay/internal/connection"
	"patchbay/internal/connector"
	"patchbay/internal/enrich"
	"patchbay/internal/jobs"
	"patchbay/internal/store"
	"patchbay/internal/vault"
)

// DefaultWorkspace is the workspace the bootstrap token belongs to.
const DefaultWorkspace = "default"

// Fake is a provider fake served on Patchbay's own listener (demo and tests).
type Fake struct {
	Handler      http.Handler
	ClientID     string
	ClientSecret string
}

// Options are what differs between serve, demo and tests.
type Options struct {
	// BaseURL is how browsers and fakes reach this process (no trailing slash).
	BaseURL string
	// Fakes replace real providers: each is mounted under /_fakes/<id>/ and the
	// catalog entry is pointed at it.
	Fakes map[string]Fake
	// Connectors is the connector registry; nil means the built-in one.
	Connectors *connector.Registry
	Logger     *slog.Logger
	// Catalog adjusts the loaded catalog (tests: rate limits, page sizes).
	Catalog func(*catalog.Catalog) *catalog.Catalog
	// ProviderURLs point catalog entries at base URLs of fakes served by
	// another process (multi-process tests), by provider id.
	ProviderURLs map[string]string
	// RunSync replaces the work of the run_sync job (multi-process tests
	// record runs with it); nil: a run of the sync engine.
	RunSync func(ctx context.Context, syncID, trigger string) error
	// Enrich tunes the enrichment service (tests: shorter retries). Optional.
	Enrich func(*enrich.Config)
}

// App is one assembled process.
type App struct {
	Config  *config.Config
	Store   *store.Store
	Vault   *vault.Vault
	Catalog *catalog.Catalog
	Conns   *connection.Service
	API     *api.Handler
	Log     *slog.Logger
	Token   string // the bootstrap API token value (printed by demo)
	// Jobs is the background job engine (enqueue work with Jobs.Enqueue).
	Jobs    jobs.Engine
	pool    *pgxpool.Pool // River's connections (PostgreSQL only)
	handler http.Handler
	data    *dataParts
	metrics *prometheus.Registry
	wg      sync.WaitGroup
	bg      *background // health monitor and notifications (health.go)
}

// New builds an App. It opens (and migrates) the store and loads the master key.
func New(ctx context.Context, cfg *config.Config, o Options) (*App, error) {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	cat, err := catalog.Load()
	if err != nil {
		return nil, err
	}
	clients := map[string]connection.ClientCredentials{}
	for id, cl := range cfg.Clients {
		clients[id] = connection.ClientCredentials{ID: cl.ID, Secret: cl.Secret}
	}
	for id, f := range o.Fakes {
		p, ok := cat.Get(id)
		if !ok {
			return nil, fmt.Errorf("fake for unknown provider %q", id)
		}
		cat = cat.WithProvider(p.Rebase(o.BaseURL + "/_fakes/" + id))
		if f.ClientID != "" {
			clients[id] = connection.ClientCredentials{ID: f.ClientID, Secret: f.ClientSecret}
		}
	}
	if o.Catalog != nil {
		cat = o.Catalog(cat)
	}
	for id, base := range o.ProviderURLs {
		p, ok := cat.Get(id)
		if !ok {
			return nil, fmt.Errorf("provider URL for unknown provider %q", id)
		}
		cat = cat.WithProvider(p.Rebase(base))
	}
	v, err := LoadVault(cfg)
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, cfg.DSN())
	if err != nil {
		return nil, err
	}
	if err := checkMasterKey(ctx, st, v); err != nil {
		st.Close()
		return nil, err
	}
	reg := o.Connectors
	if reg == nil {
		reg, err = Connectors()
		if err != nil {
			st.Close()
			return nil, err
		}
	}
	metrics := prometheus.NewRegistry()
	metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	providerCalls := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "patchbay_provider_requests_total",
		Help: "Requests sent to providers, by provider and HTTP status class."}, []string{"provider", "status"})
	metrics.MustRegister(providerCalls)
	data := &dataParts{}
	bg, err := newBackground(cfg, st, v, cat, o, log)
	if err != nil {
		st.Close()
		return nil, err
	}
	conns := connection.New(connection.Config{
		Store: st, Vault: v, Catalog: cat, Connectors: reg, Clients: clients,
		RedirectURL: o.BaseURL + "/oauth/callback", Logger: log, OnChange: bg.changed,
		AfterReconnect: data.afterReconnect, HTTP: outboundClient(cfg),
		OnProviderCall: func(provider string, status int) {
			providerCalls.WithLabelValues(provider, fmt.Sprintf("%dxx", status/100)).Inc()
		},
	})
	registerCallback(o.Fakes, o.BaseURL+"/oauth/callback")
	a := &App{Config: cfg, Store: st, Vault: v, Catalog: cat, Conns: conns, Log: log, metrics: metrics, bg: bg, data: data}
	a.API = api.New(st, conns, log)
	a.wireData(data, o.BaseURL, clients)
	a.wireEnrich(data, o.Enrich)
	if err := bg.attach(a); err != nil {
		st.Close()
		return nil, err
	}
	if err := a.bootstrap(ctx); err != nil {
		st.Close()
		return nil, err
	}
	if err := a.setupJobs(ctx, o); err != nil {
		st.Close()
		return nil, err
	}
	a.handler = a.routes(o.Fakes)
	return a, nil
}

func masterKey(cfg *config.Config) ([]byte, error) {
	if cfg.MasterKey != "" {
		k, err := vault.ParseKey(cfg.MasterKey)
		if err != nil {
			return nil, fmt.Errorf("PATCHBAY_MASTER_KEY: %w", err)
		}
		return k, nil
	}
	return vault.LoadOrCreateKeyFile(filepath.Join(cfg.DataDir, "master.key"))
}

// bootstrap makes sure the default workspace and an admin token exist.
func (a *App) bootstrap(ctx context.Context) error {
	if _, err := a.Store.EnsureWorkspace(ctx, DefaultWorkspace, "Default workspace", catalog.TierStandard); err != nil {
		return err
	}
	a.Token = a.Config.BootstrapToken
	if a.Token == "" {
		b := make([]byte, 24)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		a.Token = "pb_" + base64.RawURLEncoding.EncodeToString(b)
	}
	return a.Store.EnsureToken(ctx, DefaultWorkspace, "bootstrap", "owner", connection.HashToken(a.Token))
}

func (a *App) routes(fakes map[string]Fake) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := a.Store.Ping(ctx); err != nil {
			http.Error(w, "store unreachable", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.metrics, promhttp.HandlerOpts{}))
	a.API.Register(mux)
	for id, f := range fakes {
		prefix := "/_fakes/" + id
		mux.Handle(prefix+"/", http.StripPrefix(prefix, f.Handler))
	}
	dash := a.dashboard(fakes)
	dash.Register(mux)
	a.API.SetBrowserSession(dash.SessionPrincipal)
	return mux
}

// Handler is the process's whole HTTP surface.
func (a *App) Handler() http.Handler { return a.handler }

// Serve answers on ln until ctx is done, then shuts down: it stops taking
// requests, lets running ones finish (up to 15 s) and stops background work.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: a.handler, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn)}
	if err := a.recoverRuns(ctx); err != nil {
		return err
	}
	stopBackground, err := a.startBackground(ctx)
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return errors.Join(err, stopBackground())
	case <-ctx.Done():
	}
	a.Log.Info("shutting down")
	shut, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err = srv.Shutdown(shut)
	a.wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return errors.Join(err, stopBackground())
}

// Close releases the store and River's connections.
func (a *App) Close() error {
	if a.pool != nil {
		a.pool.Close()
	}
	return a.Store.Close()
}
