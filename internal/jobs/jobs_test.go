package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"patchbay/internal/jobs"
	"patchbay/internal/store"
)

// newEngine builds the engine a dialect uses: Local for SQLite, River on a
// fresh PostgreSQL schema for Postgres (skipped without a test database).
func newEngine(t *testing.T, dialect string, cfg jobs.Config) jobs.Engine {
	t.Helper()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if dialect == store.SQLite {
		return jobs.NewLocal(cfg)
	}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, store.TestDSN(t, store.Postgres))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := jobs.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if err := jobs.Migrate(ctx, pool); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	r, err := jobs.NewRiver(pool, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func forEachEngine(t *testing.T, fn func(t *testing.T, dialect string)) {
	for _, d := range []string{store.SQLite, store.Postgres} {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			fn(t, d)
		})
	}
}

func start(t *testing.T, e jobs.Engine) {
	t.Helper()
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Stop(context.Background()) })
}

func TestOneActiveJobPerSubject(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, dialect string) {
		started := make(chan string, 10)
		release := make(chan struct{})
		e := newEngine(t, dialect, jobs.Config{Handlers: jobs.Handlers{
			RunSync: func(ctx context.Context, syncID, trigger string) error {
				started <- syncID + "/" + trigger
				<-release
				return nil
			},
		}})
		ctx := context.Background()
		// Queued before Start: a second ask for the same sync is a duplicate,
		// whatever its trigger; another sync is not.
		for _, tc := range []struct {
			args jobs.RunSync
			dup  bool
		}{
			{jobs.RunSync{SyncID: "syn_a", Trigger: "manual"}, false},
			{jobs.RunSync{SyncID: "syn_a", Trigger: "schedule"}, true},
			{jobs.RunSync{SyncID: "syn_b", Trigger: "schedule"}, false},
		} {
			r, err := e.Enqueue(ctx, tc.args)
			if err != nil || r.Duplicate != tc.dup {
				t.Fatalf("enqueue %+v: duplicate %v (%v), want %v", tc.args, r.Duplicate, err, tc.dup)
			}
		}
		start(t, e)
		got := map[string]bool{<-started: true, <-started: true}
		if !got["syn_a/manual"] || !got["syn_b/schedule"] {
			t.Fatalf("ran %v", got)
		}
		// Running counts as active too.
		if r, err := e.Enqueue(ctx, jobs.RunSync{SyncID: "syn_a", Trigger: "manual"}); err != nil || !r.Duplicate {
			t.Fatalf("enqueue while running: %+v %v", r, err)
		}
		close(release)
		// Once finished, the sync may run again.
		deadline := time.Now().Add(10 * time.Second)
		for {
			r, err := e.Enqueue(ctx, jobs.RunSync{SyncID: "syn_a", Trigger: "manual"})
			if err != nil {
				t.Fatal(err)
			}
			if !r.Duplicate {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("sync still counted as active 10 s after its run finished")
			}
			time.Sleep(20 * time.Millisecond) // polling the engine's view of the finished job
		}
		if s := <-started; s != "syn_a/manual" {
			t.Fatalf("second run %s", s)
		}
	})
}

func TestSweepEnqueuesDueWorkOnce(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, dialect string) {
		const n = 30
		var mu sync.Mutex
		runs := map[string]int{}
		done := make(chan struct{})
		due := map[string]bool{}
		for i := range n {
			due[fmt.Sprintf("con_%02d", i)] = true
		}
		e := newEngine(t, dialect, jobs.Config{SweepInterval: 200 * time.Millisecond, Handlers: jobs.Handlers{
			RefreshToken: func(ctx context.Context, id string) error {
				mu.Lock()
				defer mu.Unlock()
				runs[id]++
				delete(due, id) // the refresh moves the expiry: no longer due
				if len(due) == 0 {
					close(done)
				}
				return nil
			},
			Due: func(ctx context.Context, now time.Time) ([]jobs.Work, error) {
				mu.Lock()
				defer mu.Unlock()
				var out []jobs.Work
				for id := range due {
					out = append(out, jobs.Work{Args: jobs.RefreshToken{ConnectionID: id}})
				}
				return out, nil
			},
		}})
		start(t, e)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("due work not done after 30 s: %d left", len(due))
		}
		if err := e.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		for id, k := range runs {
			if k != 1 {
				t.Errorf("%s refreshed %d times", id, k)
			}
		}
	})
}

func TestStopFinishesOrCancelsRunningJobs(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, dialect string) {
		running := make(chan string, 2)
		finished := make(chan string, 2)
		e := newEngine(t, dialect, jobs.Config{StopTimeout: 500 * time.Millisecond, Handlers: jobs.Handlers{
			Probe: func(ctx context.Context, id string) error {
				running <- id
				if id == "con_quick" {
					time.Sleep(100 * time.Millisecond) // a job that finishes within the stop timeout
					finished <- id
					return nil
				}
				<-ctx.Done() // a job that only ends when cancelled
				finished <- id + ":" + ctx.Err().Error()
				return ctx.Err()
			},
		}})
		start(t, e)
		ctx := context.Background()
		for _, id := range []string{"con_quick", "con_slow"} {
			if _, err := e.Enqueue(ctx, jobs.Probe{ConnectionID: id}); err != nil {
				t.Fatal(err)
			}
		}
		<-running
		<-running
		begin := time.Now()
		if err := e.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(begin); d > 5*time.Second {
			t.Fatalf("stop took %s", d)
		}
		got := map[string]bool{<-finished: true, <-finished: true}
		if !got["con_quick"] || !got["con_slow:context canceled"] {
			t.Fatalf("finished %v", got)
		}
	})
}

func TestEnqueueRefusesKindsWithoutHandler(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, dialect string) {
		e := newEngine(t, dialect, jobs.Config{Handlers: jobs.Handlers{Probe: func(context.Context, string) error { return nil }}})
		if _, err := e.Enqueue(context.Background(), jobs.RunSync{SyncID: "syn_x"}); !errors.Is(err, jobs.ErrNoHandler) {
			t.Fatalf("enqueue without handler: %v", err)
		}
	})
}

// A busy subject snoozes its job: it runs again after the wait, more often
// than the attempts a failing job gets, and is not discarded.
func TestSnoozedJobRunsAgainWithoutUsingAttempts(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, dialect string) {
		const snoozes = 7 // more than the 5 attempts of a failing job
		var mu sync.Mutex
		runs := 0
		done := make(chan struct{})
		e := newEngine(t, dialect, jobs.Config{Handlers: jobs.Handlers{
			RunSync: func(ctx context.Context, syncID, trigger string) error {
				mu.Lock()
				defer mu.Unlock()
				runs++
				if runs <= snoozes {
					return fmt.Errorf("sync %s: %w", syncID, jobs.Snooze(10*time.Millisecond))
				}
				close(done)
				return nil
			},
		}})
		start(t, e)
		if _, err := e.Enqueue(context.Background(), jobs.RunSync{SyncID: "syn_busy", Trigger: "webhook"}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			mu.Lock()
			defer mu.Unlock()
			t.Fatalf("the snoozed job ran %d times and stopped", runs)
		}
	})
}

// Probes, refreshes and sweeps have their own queue: they run while every
// sync slot is taken by a long run.
func TestUpkeepDoesNotWaitBehindSyncRuns(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, dialect string) {
		running := make(chan struct{})
		release := make(chan struct{})
		probed := make(chan string, 1)
		e := newEngine(t, dialect, jobs.Config{Concurrency: 1, Handlers: jobs.Handlers{
			RunSync: func(ctx context.Context, syncID, trigger string) error {
				close(running)
				select {
				case <-release:
				case <-ctx.Done():
				}
				return nil
			},
			Probe: func(ctx context.Context, id string) error {
				probed <- id
				return nil
			},
		}})
		start(t, e)
		t.Cleanup(func() { close(release) }) // before Stop: cleanups run last in, first out
		ctx := context.Background()
		if _, err := e.Enqueue(ctx, jobs.RunSync{SyncID: "syn_long", Trigger: "schedule"}); err != nil {
			t.Fatal(err)
		}
		<-running
		if _, err := e.Enqueue(ctx, jobs.Probe{ConnectionID: "con_a"}); err != nil {
			t.Fatal(err)
		}
		select {
		case id := <-probed:
			if id != "con_a" {
				t.Fatalf("probed %s", id)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("the probe waited behind the sync run holding the only sync slot")
		}
	})
}
