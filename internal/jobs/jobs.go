// Package jobs runs Patchbay's background work: sync runs, token refreshes,
// health probes and the sweep that finds due work. Each kind of job is a
// small args type and a plain function (Handlers) the app supplies, so the
// sync engine and the health monitor plug in without knowing how jobs travel.
//
// Two engines run the same job definitions with the same uniqueness rule
// (one active job per kind and subject: one run per sync, one refresh or
// probe per connection, at a time):
//
//   - River (NewRiver) on PostgreSQL, for `serve` plus any number of
//     `worker` processes. Jobs are rows in PostgreSQL; River's unique jobs
//     (by args, while available, pending, scheduled, running or retryable)
//     hold the rule across processes, its leader inserts the periodic sweep,
//     and its rescuer hands the jobs of a killed worker to another.
//   - Local (NewLocal) in one process on SQLite.
//
// Jobs travel on two queues with their own concurrency: sync runs, which may
// take an hour, on QueueSyncs; probes, token refreshes and the sweep, which
// take a second, on QueueUpkeep, so that they never wait behind long runs. A
// handler whose subject is busy (say, a run of the same sync started by hand)
// returns Snooze: the job runs again a little later without counting as a
// failed attempt.
//
// Why not River's SQLite driver (riversqlite) for the second: the only version
// that resolves here is v0.31.0, marked "early testing" and polling-only, and
// it would pin every River module, the PostgreSQL driver included, twenty
// releases back. SQLite mode is one process by construction (one writer, one
// file), so uniqueness across processes needs no database machinery: an
// in-process set of active keys gives the same rule. What Local gives up is
// durability of queued jobs across a restart; the sweep re-derives due work
// from the store (next run times, token expiry, last probe), so scheduled work
// is found again, and only a "run now" still waiting at shutdown is dropped.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// Args is one unit of background work. The args types of this package are
// the only implementations.
type Args interface {
	river.JobArgs
	// uniqueKey names the subject the uniqueness rule applies to.
	uniqueKey() string
	// queue is the queue the job travels on.
	queue() string
}

// The queues.
const (
	// QueueSyncs carries sync runs (Config.Concurrency at a time).
	QueueSyncs = river.QueueDefault
	// QueueUpkeep carries probes, token refreshes and the sweep
	// (Config.UpkeepConcurrency at a time).
	QueueUpkeep = "upkeep"
)

// activeStates are the River job states in which a job blocks a duplicate:
// everything but finished (completed, cancelled, discarded).
var activeStates = []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
	rivertype.JobStateRetryable, rivertype.JobStateScheduled,
}

// maxAttempts is how often a failing job runs before it is discarded. More
// than one, so that a job whose worker died is retried by the rescuer.
const maxAttempts = 5

func insertOpts(queue string) river.InsertOpts {
	return river.InsertOpts{MaxAttempts: maxAttempts, Queue: queue, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: activeStates}}
}

// SnoozeError is what Snooze returns.
type SnoozeError struct {
	// After is how long the job waits before it runs again.
	After time.Duration
}

func (e *SnoozeError) Error() string {
	return fmt.Sprintf("jobs: subject busy, try again in %s", e.After)
}

// Snooze is a handler's answer when its subject is busy rather than broken:
// the job runs again after d, and the wait does not count as one of its
// attempts (so it is never discarded for being snoozed).
func Snooze(d time.Duration) error { return &SnoozeError{After: max(d, 0)} }

// RunSync runs one sync. Trigger is manual, schedule, webhook or reconnect.
// Resume, set on the resumption of a run whose lease ran out (that lease's
// token), is part of the unique key, so that the job a killed worker left
// "running" (until River's rescuer hands it on) does not hold up the
// resumption of its own work.
type RunSync struct {
	SyncID  string `json:"sync_id" river:"unique"`
	Trigger string `json:"trigger"`
	Resume  int64  `json:"resume,omitempty" river:"unique"`
}

// Kind implements river.JobArgs.
func (RunSync) Kind() string { return "run_sync" }

// InsertOpts makes the job unique per sync while it is active.
func (RunSync) InsertOpts() river.InsertOpts { return insertOpts(QueueSyncs) }
func (a RunSync) uniqueKey() string {
	return fmt.Sprintf("%s\x00%d", a.SyncID, a.Resume)
}
func (RunSync) queue() string { return QueueSyncs }

// RefreshToken refreshes a connection's OAuth token when it is due.
type RefreshToken struct {
	ConnectionID string `json:"connection_id" river:"unique"`
}

// Kind implements river.JobArgs.
func (RefreshToken) Kind() string { return "refresh_token" }

// InsertOpts makes the job unique per connection while it is active.
func (RefreshToken) InsertOpts() river.InsertOpts { return insertOpts(QueueUpkeep) }
func (a RefreshToken) uniqueKey() string          { return a.ConnectionID }
func (RefreshToken) queue() string                { return QueueUpkeep }

// Probe checks a connection with the provider's identity call.
type Probe struct {
	ConnectionID string `json:"connection_id" river:"unique"`
}

// Kind implements river.JobArgs.
func (Probe) Kind() string { return "probe" }

// InsertOpts makes the job unique per connection while it is active.
func (Probe) InsertOpts() river.InsertOpts { return insertOpts(QueueUpkeep) }
func (a Probe) uniqueKey() string          { return a.ConnectionID }
func (Probe) queue() string                { return QueueUpkeep }

// Sweep asks Handlers.Due what is due and enqueues it. River's leader inserts
// it every SweepInterval; Local runs it on a ticker.
type Sweep struct{}

// Kind implements river.JobArgs.
func (Sweep) Kind() string { return "sweep" }

// InsertOpts makes the sweep unique while active: one sweep at a time.
func (Sweep) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 1, Queue: QueueUpkeep, UniqueOpts: river.UniqueOpts{ByState: activeStates}}
}
func (Sweep) uniqueKey() string { return "" }
func (Sweep) queue() string     { return QueueUpkeep }

// Execer runs one statement in the transaction that inserts a job (on
// River, a pgx transaction; on Local, a store transaction) and says how many
// rows it changed.
type Execer interface {
	Exec(ctx context.Context, query string, args ...any) (int64, error)
}

// Work is due work the sweep enqueues.
type Work struct {
	Args Args
	// Claim, when set, runs in the transaction that inserts the job and
	// marks the work taken (a scheduled sync's due time moved on); it
	// returns false when the work is no longer due, and no job is inserted.
	// So a sweep that read a due time before a run finished can never
	// enqueue a second run for it.
	Claim func(ctx context.Context, ex Execer) (bool, error)
}

// Handlers are the functions behind the job kinds. A nil handler leaves its
// kind out: enqueueing it fails, and Due must not return it. A handler's
// error makes the job run again later (up to 5 attempts, with backoff); a
// failure that retrying cannot fix should be recorded and answered with nil;
// a busy subject is answered with Snooze.
type Handlers struct {
	RunSync      func(ctx context.Context, syncID, trigger string) error
	RefreshToken func(ctx context.Context, connectionID string) error
	Probe        func(ctx context.Context, connectionID string) error
	// Notified turns a sync's change notifications into one run (Notify).
	Notified func(ctx context.Context, syncID string) error
	// Subscribe makes a connection's change subscriptions at its provider
	// match its realtime syncs, and checks and renews them (Subscribe).
	Subscribe func(ctx context.Context, connectionID string) error
	// Due returns the work that is due at now (the sweep enqueues it; work
	// already queued or running is skipped by the uniqueness rule).
	Due func(ctx context.Context, now time.Time) ([]Work, error)
}

// Config tunes an engine.
type Config struct {
	Handlers Handlers
	// Concurrency is how many sync runs this process runs at once. Default 10.
	Concurrency int
	// UpkeepConcurrency is how many probes, token refreshes and sweeps this
	// process runs at once, beside the sync runs. Default 32.
	UpkeepConcurrency int
	// InsertOnly (River only) makes this process enqueue jobs but work none
	// and never lead: a web process beside dedicated workers.
	InsertOnly bool
	// JobTimeout cancels a job's context after this long. Default 1 h.
	JobTimeout time.Duration
	// RescueAfter (River) is when a running job whose worker went away is
	// handed to another worker; it must exceed JobTimeout. Default
	// JobTimeout + JobTimeout/4.
	RescueAfter time.Duration
	// SweepInterval is how often due work is looked for. Default 15 s.
	SweepInterval time.Duration
	// StopTimeout is how long Stop lets running jobs finish before it
	// cancels them (they are then retried, by another worker on River).
	// Default 30 s.
	StopTimeout time.Duration
	// ID names this process among the workers (River client id). Default: River's.
	ID     string
	Logger *slog.Logger
	// Now is the clock for the sweep. Default time.Now.
	Now func() time.Time
	// InTx (Local only) runs fn in one store transaction: the claims of
	// due work are written in it. Required when Due returns claims.
	InTx func(ctx context.Context, fn func(ex Execer) error) error
}

func (c Config) withDefaults() Config {
	if c.Concurrency <= 0 {
		c.Concurrency = 10
	}
	if c.UpkeepConcurrency <= 0 {
		c.UpkeepConcurrency = 32
	}
	if c.JobTimeout <= 0 {
		c.JobTimeout = time.Hour
	}
	if c.RescueAfter <= c.JobTimeout {
		c.RescueAfter = c.JobTimeout + c.JobTimeout/4
	}
	if c.SweepInterval <= 0 {
		c.SweepInterval = 15 * time.Second
	}
	if c.StopTimeout <= 0 {
		c.StopTimeout = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Result says what Enqueue did.
type Result struct {
	// Duplicate is true when an active job for the same subject already
	// existed, so nothing was added.
	Duplicate bool
}

// Engine is the job engine a process runs: River or Local.
type Engine interface {
	// Enqueue adds a job unless one for the same subject is active.
	Enqueue(ctx context.Context, args Args) (Result, error)
	// EnqueueClaimed runs claim and, when it reports true, adds the job, in
	// one transaction: both land or neither.
	EnqueueClaimed(ctx context.Context, args Args, claim func(ctx context.Context, ex Execer) (bool, error)) (Result, error)
	// Start begins working jobs and sweeping for due work.
	Start(ctx context.Context) error
	// Stop stops taking work and lets running jobs finish for up to
	// StopTimeout; it then cancels them (they are retried later) and
	// returns once they returned or ctx is done.
	Stop(ctx context.Context) error
}

// ErrStopped is returned by Enqueue on a stopped Local engine.
var ErrStopped = errors.New("jobs: engine stopped")

// ErrNoHandler is returned when a job kind has no handler in this process.
var ErrNoHandler = errors.New("jobs: no handler for this kind")

// run calls the handler for args.
func (h Handlers) run(ctx context.Context, e Engine, now func() time.Time, log *slog.Logger, args Args) error {
	switch a := args.(type) {
	case RunSync:
		if h.RunSync != nil {
			return h.RunSync(ctx, a.SyncID, a.Trigger)
		}
	case RefreshToken:
		if h.RefreshToken != nil {
			return h.RefreshToken(ctx, a.ConnectionID)
		}
	case Probe:
		if h.Probe != nil {
			return h.Probe(ctx, a.ConnectionID)
		}
	case Sweep:
		if h.Due != nil {
			return sweep(ctx, e, h.Due, now(), log)
		}
	case Notify:
		if h.Notified != nil {
			return h.Notified(ctx, a.SyncID)
		}
	case Subscribe:
		if h.Subscribe != nil {
			return h.Subscribe(ctx, a.ConnectionID)
		}
	}
	return fmt.Errorf("%s: %w", args.Kind(), ErrNoHandler)
}

func (h Handlers) has(kind string) bool {
	switch kind {
	case RunSync{}.Kind():
		return h.RunSync != nil
	case RefreshToken{}.Kind():
		return h.RefreshToken != nil
	case Probe{}.Kind():
		return h.Probe != nil
	case Sweep{}.Kind():
		return h.Due != nil
	case Notify{}.Kind():
		return h.Notified != nil
	case Subscribe{}.Kind():
		return h.Subscribe != nil
	}
	return false
}

// sweep enqueues what is due. One failing insert does not stop the others.
func sweep(ctx context.Context, e Engine, due func(context.Context, time.Time) ([]Work, error), now time.Time, log *slog.Logger) error {
	work, err := due(ctx, now)
	if err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	var errs []error
	added := 0
	for _, w := range work {
		a := w.Args
		var r Result
		var err error
		if w.Claim != nil {
			r, err = e.EnqueueClaimed(ctx, a, w.Claim)
		} else {
			r, err = e.Enqueue(ctx, a)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("enqueue %s %s: %w", a.Kind(), a.uniqueKey(), err))
			continue
		}
		if !r.Duplicate {
			added++
		}
	}
	if added > 0 {
		log.Debug("sweep enqueued due work", "due", len(work), "added", added)
	}
	return errors.Join(errs...)
}
