package health_test

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"patchbay/internal/connection"
	"patchbay/internal/connection/connectiontest"
	"patchbay/internal/health"
	"patchbay/internal/jobs"
	"patchbay/internal/store"
)

// Due names the connections not probed for an Interval; Probe probes one,
// stores the outcome and tells Observe; a probe makes the connection not
// due until an Interval has passed. Sweep probes them all and tallies.
func TestMonitorDueAndProbe(t *testing.T) {
	t.Parallel()
	b := connectiontest.New(t)
	b.Connect(t, "acct", 3)
	ctx := context.Background()
	observed := make(chan string, 6)
	m, err := health.New(health.Config{Store: b.Store, Conns: b.Conns, Interval: time.Hour,
		Observe: func(_ context.Context, c *store.Connection) { observed <- c.ID }})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	due, err := m.Due(ctx, now)
	if err != nil || len(due) != 3 {
		t.Fatalf("due before any probe: %v %v, want 3", due, err)
	}
	for _, id := range due {
		if err := m.Probe(ctx, id); err != nil {
			t.Fatal(err)
		}
		if got := <-observed; got != id {
			t.Fatalf("observed %s after probing %s", got, id)
		}
		c, err := b.Store.ConnectionByID(ctx, id)
		if err != nil || c.Status != connection.StatusConnected || c.LastCheckedAt.IsZero() {
			t.Fatalf("after the probe: %+v %v", c, err)
		}
	}
	if due, err := m.Due(ctx, now.Add(time.Minute)); err != nil || len(due) != 0 {
		t.Fatalf("due right after the probes: %v %v", due, err)
	}
	if due, err := m.Due(ctx, now.Add(time.Hour+time.Minute)); err != nil || len(due) != 3 {
		t.Fatalf("due an interval later: %v %v, want 3", due, err)
	}
	if err := m.Probe(ctx, "con_gone"); err != nil {
		t.Fatalf("probe of a deleted connection: %v", err)
	}
	if _, err := m.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if got := m.Last(); got.Probed != 3 || got.Green != 3 {
		t.Fatalf("last sweep %+v", got)
	}
	if _, err := health.New(health.Config{Store: b.Store}); err == nil {
		t.Fatal("a monitor without a connection service was built")
	}
}

// BenchmarkSweep10k probes 10,000 HubSpot connections against the fake and
// reports the sweep time and probes per second: "jobs" the way Patchbay runs
// them (the job engine's sweep enqueues a probe job per due connection; the
// in-process engine of SQLite runs them on its upkeep queue, 32 at a time),
// "direct" with Monitor.Sweep (the probes alone, without the engine). It
// fails when a sweep takes longer than the default probe interval (5 min) or
// when the fake refused any request for a rate limit.
//
//	go test ./internal/health -run '^$' -bench Sweep10k -benchtime 1x
func BenchmarkSweep10k(b *testing.B) {
	const n = 10_000
	bd := connectiontest.New(b)
	bd.Connect(b, "acct", n)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	check := func(b *testing.B, d time.Duration) {
		b.Helper()
		if d > 5*time.Minute {
			b.Fatalf("a sweep took %s, longer than the default probe interval", d)
		}
		st := bd.Fake.Stats()
		if st.RateLimited != 0 || st.OverLimit != 0 {
			b.Fatalf("the fake refused %d requests for its rate limit (%d over limit)", st.RateLimited, st.OverLimit)
		}
		b.ReportMetric(d.Seconds(), "s/sweep")
		b.ReportMetric(float64(n)/d.Seconds(), "probes/s")
	}
	b.Run("jobs", func(b *testing.B) {
		var probed atomic.Int64
		done := make(chan struct{})
		m, err := health.New(health.Config{Store: bd.Store, Conns: bd.Conns, Logger: log,
			Observe: func(_ context.Context, c *store.Connection) {
				if c.Status == connection.StatusConnected && probed.Add(1) == n {
					close(done)
				}
			}})
		if err != nil {
			b.Fatal(err)
		}
		var last time.Duration
		for i := range b.N {
			probed.Store(0)
			done = make(chan struct{})
			// Each round sweeps an interval later, so every connection is due.
			later := time.Duration(i+1) * time.Hour
			e := jobs.NewLocal(jobs.Config{Logger: log, SweepInterval: time.Hour, Now: func() time.Time { return time.Now().Add(later) },
				Handlers: jobs.Handlers{Probe: m.Probe, Due: func(ctx context.Context, now time.Time) ([]jobs.Work, error) {
					ids, err := m.Due(ctx, now)
					out := make([]jobs.Work, 0, len(ids))
					for _, id := range ids {
						out = append(out, jobs.Work{Args: jobs.Probe{ConnectionID: id}})
					}
					return out, err
				}}})
			begin := time.Now()
			if err := e.Start(context.Background()); err != nil {
				b.Fatal(err)
			}
			select {
			case <-done:
			case <-time.After(10 * time.Minute):
				b.Fatalf("%d of %d probed after 10 min", probed.Load(), n)
			}
			last = time.Since(begin)
			if err := e.Stop(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
		check(b, last)
	})
	b.Run("direct", func(b *testing.B) {
		m, err := health.New(health.Config{Store: bd.Store, Conns: bd.Conns, Logger: log})
		if err != nil {
			b.Fatal(err)
		}
		var last health.Sweep
		for range b.N {
			last, err = m.Sweep(context.Background())
			if err != nil {
				b.Fatal(err)
			}
		}
		if last.Probed != n || last.Green != n || last.Failed != 0 {
			b.Fatalf("sweep %+v", last)
		}
		check(b, last.Duration)
	})
}
