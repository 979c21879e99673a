// Package health keeps every connection's status true without anyone typing
// it in: a Monitor sweeps all connections at an interval, probing each with
// the provider's cheap identity call, renewing OAuth tokens that would expire
// before the next sweep, and storing the status, reason and health the probe
// shows (connection.Service.ProbeAhead does the classifying).
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
	// Interval between the starts of two sweeps. Default 5 min.
	Interval time.Duration
	// RefreshWindow: OAuth tokens expiring within it are renewed during the
	// sweep. Default Interval plus 5 min, so no token lapses between sweeps.
	RefreshWindow time.Duration
	// Concurrency bounds the probes in flight. Default 32.
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

// Monitor sweeps connections in the background between Start and Stop.
type Monitor struct {
	cfg Config

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
	last   Sweep
	// sweeping serializes sweeps: one asked for while another runs waits.
	sweeping sync.Mutex
}

// New returns a Monitor; it does nothing until Start.
func New(cfg Config) (*Monitor, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	return &Monitor{cfg: cfg}, nil
}

// Start sweeps at once, then every Interval, until Stop or until ctx ends.
func (m *Monitor) Start(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cancel != nil {
		return errors.New("health: monitor already started")
	}
	ctx, cancel := context.WithCancel(ctx)
	m.cancel, m.done = cancel, make(chan struct{})
	go m.loop(ctx, m.done)
	return nil
}

// Stop ends the background sweeps and waits until the one in flight has
// stopped (probes see their context cancelled). It is safe to call twice.
func (m *Monitor) Stop() {
	m.mu.Lock()
	cancel, done := m.cancel, m.done
	m.cancel, m.done = nil, nil
	m.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

func (m *Monitor) loop(ctx context.Context, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(m.cfg.Interval)
	defer t.Stop()
	for {
		if _, err := m.Sweep(ctx); err != nil && ctx.Err() == nil {
			m.cfg.Logger.Error("health sweep", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
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

// Sweep probes every connection once, at most Concurrency at a time, and
// returns the tally; it waits for a sweep already running. Connections that are not connected or disconnected are
// skipped by the probe itself. Tests and benchmarks call it directly.
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
			pctx, cancel := context.WithTimeout(gctx, m.cfg.ProbeTimeout)
			defer cancel()
			got, err := m.cfg.Conns.ProbeAhead(pctx, c, m.cfg.RefreshWindow)
			if err == nil && m.cfg.Observe != nil {
				m.cfg.Observe(pctx, got)
			}
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
