// Package health keeps every connection's status true without anyone typing
// it in: a Monitor says which connections are due for a probe (not probed
// for an Interval) and probes one with the provider's cheap identity call,
// renewing an OAuth token that would expire before its next probe, storing
// the status, reason and health the probe shows
// (connection.Service.ProbeAhead does the classifying) and telling the
// notifier (Observe), which alerts once per episode.
//
// The job engine drives it: its sweep enqueues a probe job per due
// connection, and the probe job calls Probe, so that on PostgreSQL the
// workers share the probes and each connection is probed by one of them.
// Sweep probes every connection at once in this process (tests, benchmarks).
//
// Probes go through the connection's Session, so they spend the same
// per-connection request budget as syncs and enrichment and can never push a
// connection past its provider's documented rate limit.
package health

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"patchbay/internal/connection"
	"patchbay/internal/store"
)

// Config configures a Monitor.
type Config struct {
	// Store lists the connections to sweep. Required.
	Store *store.Store
	// Conns probes them. Required.
	Conns *connection.Service
	// Interval between two probes of a connection. Default 5 min.
	Interval time.Duration
	// RefreshWindow: an OAuth token expiring within it is renewed by the
	// probe. Default Interval plus 5 min, so no token lapses between probes.
	RefreshWindow time.Duration
	// Concurrency bounds the probes in flight during a Sweep. Default 32.
	// (Probe jobs are bounded by the job engine's upkeep queue.)
	Concurrency int
	// ProbeTimeout bounds one probe (the transport's retries included). Default 1 min.
	ProbeTimeout time.Duration
	// Observe, when set, is told about every connection after its probe
	// (notifications evaluate episodes there).
	Observe func(ctx context.Context, c *store.Connection)
	Logger  *slog.Logger
}

func (c *Config) defaults() error {
	if c.Store == nil || c.Conns == nil {
		return errors.New("health: Config needs Store and Conns")
	}
	if c.Interval < 0 || c.RefreshWindow < 0 || c.Concurrency < 0 || c.ProbeTimeout < 0 {
		return errors.New("health: Interval, RefreshWindow, Concurrency and ProbeTimeout must not be negative")
	}
	if c.Interval == 0 {
		c.Interval = 5 * time.Minute
	}
	if c.RefreshWindow == 0 {
		c.RefreshWindow = c.Interval + 5*time.Minute
	}
	if c.Concurrency == 0 {
		c.Concurrency = 32
	}
	if c.ProbeTimeout == 0 {
		c.ProbeTimeout = time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Monitor probes connections; it holds no goroutine of its own.
type Monitor struct {
	cfg Config

	mu   sync.Mutex
	last Sweep
	// sweeping serializes sweeps: one asked for while another runs waits.
	sweeping sync.Mutex
}

// New returns a Monitor.
func New(cfg Config) (*Monitor, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	return &Monitor{cfg: cfg}, nil
}

// Due returns the connections due for a probe at now: those with
// credentials not probed for an Interval (or never).
func (m *Monitor) Due(ctx context.Context, now time.Time) ([]string, error) {
	ids, err := m.cfg.Store.ConnectionsCheckedBefore(ctx, now.Add(-m.cfg.Interval))
	if err != nil {
		return nil, fmt.Errorf("health: %w", err)
	}
	return ids, nil
}

// Probe probes one connection (the probe job). A connection deleted since
// it was found due is no error; what the probe found is stored on the
// connection, so the error return is for probes that could not store it.
func (m *Monitor) Probe(ctx context.Context, connectionID string) error {
	c, err := m.cfg.Store.ConnectionByID(ctx, connectionID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	_, err = m.probe(ctx, c)
	return err
}

// probe renews a token about to lapse, asks the provider, stores the
// outcome and tells Observe.
func (m *Monitor) probe(ctx context.Context, c *store.Connection) (*store.Connection, error) {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.ProbeTimeout)
	defer cancel()
	got, err := m.cfg.Conns.ProbeAhead(ctx, c, m.cfg.RefreshWindow)
	if err != nil {
		return nil, err
	}
	if m.cfg.Observe != nil {
		m.cfg.Observe(ctx, got)
	}
	return got, nil
}

// Sweep is what one pass over the connections did.
type Sweep struct {
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration"`
	Probed   int           `json:"probed"`
	Failed   int           `json:"failed"` // probes that could not store an outcome
	Red      int           `json:"red"`
	Yellow   int           `json:"yellow"`
	Green    int           `json:"green"`
}

// Sweep probes every connection once now, at most Concurrency at a time, in
// this process, and returns the tally; it waits for a sweep already running.
// Connections that are not connected or disconnected are skipped by the
// probe itself. Tests and benchmarks call it; the job engine probes through
// Due and Probe instead.
func (m *Monitor) Sweep(ctx context.Context) (Sweep, error) {
	m.sweeping.Lock()
	defer m.sweeping.Unlock()
	res := Sweep{Started: time.Now()}
	conns, err := m.cfg.Store.AllConnections(ctx)
	if err != nil {
		return res, fmt.Errorf("health sweep: %w", err)
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(m.cfg.Concurrency)
	for _, c := range conns {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			got, err := m.probe(gctx, c)
			mu.Lock()
			defer mu.Unlock()
			res.Probed++
			if err != nil {
				if ctx.Err() == nil {
					res.Failed++
					m.cfg.Logger.Warn("health probe", "connection", c.ID, "err", err)
				}
				return nil
			}
			switch connection.Health(got.Status, got.Reason) {
			case connection.HealthRed:
				res.Red++
			case connection.HealthYellow:
				res.Yellow++
			case connection.HealthGreen:
				res.Green++
			}
			return nil
		})
	}
	_ = g.Wait() // probes report through res; none returns an error
	res.Duration = time.Since(res.Started)
	m.mu.Lock()
	m.last = res
	m.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return res, err
	}
	m.cfg.Logger.Info("health sweep", "probed", res.Probed, "red", res.Red, "yellow", res.Yellow, "green", res.Green,
		"failed", res.Failed, "duration", res.Duration)
	return res, nil
}

// Last returns the tally of the last finished sweep.
func (m *Monitor) Last() Sweep {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.last
}
