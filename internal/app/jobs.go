package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"patchbay/internal/connection"
	"patchbay/internal/connector"
	"patchbay/internal/jobs"
	"patchbay/internal/store"
	"patchbay/internal/syncer"
)

// setupJobs builds the process's job engine: River on PostgreSQL (its
// migrations applied), the in-process engine on SQLite. Every process works
// jobs; `serve` also answers HTTP.
func (a *App) setupJobs(ctx context.Context, o Options) error {
	runSync := o.RunSync
	if runSync == nil {
		runSync = a.runSyncJob
	}
	cfg := jobs.Config{
		Handlers:          a.jobHandlers(runSync),
		Concurrency:       a.Config.Jobs.Concurrency,
		UpkeepConcurrency: a.Config.Health.ProbeConcurrency,
		InsertOnly:        a.Config.Jobs.Concurrency == 0,
		JobTimeout:        a.Config.Jobs.Timeout,
		SweepInterval:     a.Config.Jobs.SweepInterval,
		StopTimeout:       a.Config.Jobs.ShutdownTimeout,
		Logger:            a.Log,
		InTx: func(ctx context.Context, fn func(ex jobs.Execer) error) error {
			return a.Store.InTx(ctx, func(tx *store.Tx) error { return fn(tx) })
		},
	}
	if a.Store.Dialect() != store.Postgres {
		a.Jobs = jobs.NewLocal(cfg)
		return nil
	}
	pool, err := pgxpool.New(ctx, a.Config.DSN())
	if err != nil {
		return fmt.Errorf("job engine: connect: %w", err)
	}
	if err := a.Store.WithMigrationLock(ctx, func(ctx context.Context) error { return jobs.Migrate(ctx, pool) }); err != nil {
		pool.Close()
		return err
	}
	host, _ := os.Hostname()
	cfg.ID = fmt.Sprintf("%s-%d", host, os.Getpid())
	r, err := jobs.NewRiver(pool, cfg)
	if err != nil {
		pool.Close()
		return err
	}
	a.Jobs, a.pool = r, pool
	return nil
}

// jobHandlers are the plain functions behind the job kinds: runSync runs
// one sync, the health monitor probes, the connection service refreshes, and
// Due finds scheduled syncs, expiring tokens and connections due for a probe.
func (a *App) jobHandlers(runSync func(ctx context.Context, syncID, trigger string) error) jobs.Handlers {
	return jobs.Handlers{
		RunSync: runSync,
		RefreshToken: func(ctx context.Context, id string) error {
			_, err := a.Conns.Token(ctx, id, "")
			var ce *connector.Error
			if errors.Is(err, connection.ErrNoCredentials) || errors.As(err, &ce) {
				// The outcome is recorded on the connection (status, backoff);
				// retrying the job would not change it.
				a.Log.Info("scheduled token refresh failed", "connection", id, "err", err)
				return nil
			}
			return err
		},
		Probe:     a.bg.monitor.Probe,
		Notified:  a.realtimeNotified,
		Subscribe: a.Conns.ReconcileRealtime,
		Due: func(ctx context.Context, now time.Time) ([]jobs.Work, error) {
			var due []jobs.Work
			syncs, err := a.Store.DueSyncs(ctx, now)
			if err != nil {
				return nil, err
			}
			// A claimed due time moves on by the job's rescue time: if the
			// job is lost for good, the schedule comes back by itself; the
			// run sets the real next time when it ends.
			until := now.Add(a.Config.Jobs.Timeout + a.Config.Jobs.Timeout/4)
			for _, y := range syncs {
				id := y.ID
				due = append(due, jobs.Work{
					Args: jobs.RunSync{SyncID: id, Trigger: syncer.TriggerSchedule},
					Claim: func(ctx context.Context, ex jobs.Execer) (bool, error) {
						return a.Store.ClaimDueSync(ctx, ex, id, now, until)
					}})
			}
			// Runs whose lease ran out (their process died mid-run) resume
			// from their last committed page, one resumption per lease.
			expired, err := a.Store.ExpiredLeases(ctx, now)
			if err != nil {
				return nil, err
			}
			for _, l := range expired {
				due = append(due, jobs.Work{Args: jobs.RunSync{SyncID: l.SyncID, Trigger: syncer.TriggerSchedule, Resume: l.Token}})
			}
			ids, err := a.Store.ConnectionsExpiringBefore(ctx, now.Add(a.Conns.RefreshMargin()), now)
			if err != nil {
				return nil, err
			}
			for _, id := range ids {
				due = append(due, jobs.Work{Args: jobs.RefreshToken{ConnectionID: id}})
			}
			ids, err = a.bg.monitor.Due(ctx, now)
			if err != nil {
				return nil, err
			}
			for _, id := range ids {
				due = append(due, jobs.Work{Args: jobs.Probe{ConnectionID: id}})
			}
			rt, err := a.realtimeDue(ctx, now)
			if err != nil {
				return nil, err
			}
			for _, r := range rt {
				due = append(due, jobs.Work{Args: r})
			}
			return due, nil
		},
	}
}

// startBackground starts what every process runs besides HTTP (Serve and
// Work call it): the notifier's deliveries, the enrichment workers, the job
// engine and the scheduler that turns row changes, webhooks and reconnects
// into jobs. A worker needs them all: the syncs it runs change rows (which
// outbound realtime syncs push and action columns enrich) and its probes
// raise notifications.
//
// stop ends them in the reverse order: no more dispatches, then the running
// jobs finish or are handed back (within the shutdown timeout), then the
// enrichment lookups and the last deliveries.
func (a *App) startBackground(ctx context.Context) (stop func() error, err error) {
	// They end when stop says so, not when ctx does, so that the jobs still
	// running at shutdown can hand their row changes and alerts on.
	ctx = context.WithoutCancel(ctx)
	stopNotifier := a.bg.start(ctx)
	stopEnrich, err := a.startEnrich(ctx)
	if err != nil {
		stopNotifier()
		return nil, err
	}
	if err := a.Jobs.Start(ctx); err != nil {
		stopEnrich()
		stopNotifier()
		return nil, err
	}
	if err := a.data.scheduler.Start(ctx); err != nil {
		err = errors.Join(err, a.stopJobs(ctx))
		stopEnrich()
		stopNotifier()
		return nil, err
	}
	return func() error {
		a.data.scheduler.Stop()
		err := a.stopJobs(ctx)
		stopEnrich()
		stopNotifier()
		return err
	}, nil
}

// stopJobs stops taking jobs and lets running ones finish or hands them back
// (bounded by the shutdown timeout).
func (a *App) stopJobs(ctx context.Context) error {
	stop, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.Config.Jobs.ShutdownTimeout+15*time.Second)
	defer cancel()
	return a.Jobs.Stop(stop)
}

// Work runs the background work only (`patchbay worker`) until ctx is done,
// then shuts down within the shutdown timeout.
func (a *App) Work(ctx context.Context) error {
	stop, err := a.startBackground(ctx)
	if err != nil {
		return err
	}
	a.Log.Info("worker started")
	<-ctx.Done()
	a.Log.Info("worker stopping", "timeout", a.Config.Jobs.ShutdownTimeout)
	return stop()
}

// Migrate applies schema migrations to the store at dsn: Patchbay's, and on
// PostgreSQL River's. Running it again is a no-op.
func Migrate(ctx context.Context, dsn string) error {
	st, err := store.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer st.Close()
	if st.Dialect() != store.Postgres {
		return nil
	}
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return fmt.Errorf("migrate: connect: %w", err)
	}
	defer pool.Close()
	return st.WithMigrationLock(ctx, func(ctx context.Context) error { return jobs.Migrate(ctx, pool) })
}
