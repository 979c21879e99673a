package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// Migrate applies River's schema migrations (its job, leader and queue
// tables) to the database of pool, in the schema search_path names first.
// Running it again is a no-op.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	m, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	return nil
}

// River is the engine on PostgreSQL: every process that shares the database
// shares the jobs.
type River struct {
	cfg    Config
	pool   *pgxpool.Pool
	client *river.Client[pgx.Tx]
}

var _ Engine = (*River)(nil)

// NewRiver builds a River engine on pool (River's tables must exist: Migrate).
func NewRiver(pool *pgxpool.Pool, cfg Config) (*River, error) {
	cfg = cfg.withDefaults()
	r := &River{cfg: cfg, pool: pool}
	workers := river.NewWorkers()
	h := cfg.Handlers
	if h.RunSync != nil {
		river.AddWorker(workers, workFunc[RunSync](r))
	}
	if h.RefreshToken != nil {
		river.AddWorker(workers, workFunc[RefreshToken](r))
	}
	if h.Probe != nil {
		river.AddWorker(workers, workFunc[Probe](r))
	}
	if h.Notified != nil {
		river.AddWorker(workers, workFunc[Notify](r))
	}
	if h.Subscribe != nil {
		river.AddWorker(workers, workFunc[Subscribe](r))
	}
	var periodic []*river.PeriodicJob
	if h.Due != nil {
		river.AddWorker(workers, workFunc[Sweep](r))
		periodic = append(periodic, river.NewPeriodicJob(river.PeriodicInterval(cfg.SweepInterval),
			func() (river.JobArgs, *river.InsertOpts) { return Sweep{}, nil },
			&river.PeriodicJobOpts{ID: "sweep", RunOnStart: true}))
	}
	rc := &river.Config{
		ID:     cfg.ID,
		Logger: cfg.Logger,
		Queues: map[string]river.QueueConfig{
			QueueSyncs:  {MaxWorkers: cfg.Concurrency},
			QueueUpkeep: {MaxWorkers: cfg.UpkeepConcurrency},
		},
		Workers:              workers,
		PeriodicJobs:         periodic,
		JobTimeout:           cfg.JobTimeout,
		RescueStuckJobsAfter: cfg.RescueAfter,
		MaxAttempts:          maxAttempts,
		// A producer fetches when notified of inserts and otherwise polls;
		// River's 1 s poll would cap a process at Concurrency short jobs per
		// second while a backlog drains.
		FetchPollInterval: 200 * time.Millisecond,
	}
	if cfg.InsertOnly {
		rc.Queues, rc.PeriodicJobs, rc.SkipUnknownJobCheck = nil, nil, true
	}
	client, err := river.NewClient(riverpgxv5.New(pool), rc)
	if err != nil {
		return nil, fmt.Errorf("job engine: %w", err)
	}
	r.client = client
	return r, nil
}

func workFunc[T Args](r *River) river.Worker[T] {
	return river.WorkFunc(func(ctx context.Context, j *river.Job[T]) error {
		err := r.cfg.Handlers.run(ctx, r, r.cfg.Now, r.cfg.Logger, j.Args)
		if se := (*SnoozeError)(nil); errors.As(err, &se) {
			r.cfg.Logger.Debug("job snoozed", "kind", j.Kind, "subject", j.Args.uniqueKey(), "after", se.After)
			return river.JobSnooze(se.After)
		}
		return err
	})
}

// Enqueue inserts a job; a duplicate of an active one is skipped.
func (r *River) Enqueue(ctx context.Context, args Args) (Result, error) {
	if !r.cfg.InsertOnly && !r.cfg.Handlers.has(args.Kind()) {
		return Result{}, fmt.Errorf("enqueue %s: %w", args.Kind(), ErrNoHandler)
	}
	res, err := r.client.Insert(ctx, args, nil)
	if err != nil {
		return Result{}, fmt.Errorf("enqueue %s: %w", args.Kind(), err)
	}
	return Result{Duplicate: res.UniqueSkippedAsDuplicate}, nil
}

// EnqueueClaimed writes the claim and inserts the job in one transaction
// (River's InsertTx).
func (r *River) EnqueueClaimed(ctx context.Context, args Args, claim func(context.Context, Execer) (bool, error)) (Result, error) {
	var res Result
	err := pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		ok, err := claim(ctx, pgxExecer{tx})
		if err != nil || !ok {
			res.Duplicate = !ok
			return err
		}
		ins, err := r.client.InsertTx(ctx, tx, args, nil)
		if err != nil {
			return err
		}
		if ins.UniqueSkippedAsDuplicate {
			// The same job is still queued or running: the claim must not
			// stand without a job of its own, or the due time it moved on
			// is lost; the next sweep claims it again.
			res.Duplicate = true
			return errSkipped
		}
		return nil
	})
	if errors.Is(err, errSkipped) {
		return res, nil
	}
	if err != nil {
		return Result{}, fmt.Errorf("enqueue %s: %w", args.Kind(), err)
	}
	return res, nil
}

// errSkipped rolls back a claim whose job River skipped as a duplicate.
var errSkipped = errors.New("job skipped as a duplicate")

type pgxExecer struct{ tx pgx.Tx }

func (e pgxExecer) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := e.tx.Exec(ctx, q, args...)
	return tag.RowsAffected(), err
}

// Start begins working jobs. Stopping is Stop's business, not ctx's.
func (r *River) Start(ctx context.Context) error {
	if r.cfg.InsertOnly {
		return nil
	}
	if err := r.client.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("start job engine: %w", err)
	}
	return nil
}

// Stop fetches no more jobs, waits up to StopTimeout for running ones, then
// cancels them: River records them as errored, and the next worker retries
// them (handlers are written to be safe to run again).
func (r *River) Stop(ctx context.Context) error {
	if r.cfg.InsertOnly {
		return nil
	}
	soft, cancel := context.WithTimeout(ctx, r.cfg.StopTimeout)
	defer cancel()
	err := r.client.Stop(soft)
	if err == nil {
		return nil
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("stop job engine: %w", err)
	}
	r.cfg.Logger.Warn("jobs still running after the stop timeout; cancelling them", "timeout", r.cfg.StopTimeout)
	hard, cancel2 := context.WithTimeout(ctx, 10*time.Second)
	defer cancel2()
	if err := r.client.StopAndCancel(hard); err != nil {
		return fmt.Errorf("stop job engine: %w", err)
	}
	return nil
}
