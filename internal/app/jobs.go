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
)

// setupJobs builds the process's job engine: River on PostgreSQL (its
// migrations applied), the in-process engine on SQLite. Every process works
// jobs; `serve` also answers HTTP.
func (a *App) setupJobs(ctx context.Context, o Options) error {
	cfg := jobs.Config{
		Handlers:      a.jobHandlers(o.RunSync),
		Concurrency:   a.Config.Jobs.Concurrency,
		InsertOnly:    a.Config.Jobs.Concurrency == 0,
		JobTimeout:    a.Config.Jobs.Timeout,
		SweepInterval: a.Config.Jobs.SweepInterval,
		StopTimeout:   a.Config.Jobs.ShutdownTimeout,
		Logger:        a.Log,
	}
	if a.Store.Dialect() != store.Postgres {
		a.Jobs = jobs.NewLocal(cfg)
		return nil
	}
	pool, err := pgxpool.New(ctx, a.Config.DSN())
	if err != nil {
		return fmt.Errorf("job engine: connect: %w", err)
	}
	if err := jobs.Migrate(ctx, pool); err != nil {
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

// jobHandlers are the plain functions behind the job kinds. runSync is the
// sync engine's entry point (nil until one is wired: no sync job kind then).
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
		Probe: func(ctx context.Context, id string) error {
			c, err := a.Store.ConnectionByID(ctx, id)
			if errors.Is(err, store.ErrNotFound) {
				return nil // deleted since it was found due
			}
			if err != nil {
				return err
			}
			_, err = a.Conns.Probe(ctx, c)
			return err
		},
		Due: func(ctx context.Context, now time.Time) ([]jobs.Args, error) {
			var due []jobs.Args
			if runSync != nil {
				syncs, err := a.Store.DueSyncs(ctx, now)
				if err != nil {
					return nil, err
				}
				for _, y := range syncs {
					due = append(due, jobs.RunSync{SyncID: y.ID, Trigger: "schedule"})
				}
			}
			ids, err := a.Store.ConnectionsExpiringBefore(ctx, now.Add(a.Conns.RefreshMargin()), now)
			if err != nil {
				return nil, err
			}
			for _, id := range ids {
				due = append(due, jobs.RefreshToken{ConnectionID: id})
			}
			ids, err = a.Store.ConnectionsCheckedBefore(ctx, now.Add(-a.Config.ProbeInterval))
			if err != nil {
				return nil, err
			}
			for _, id := range ids {
				due = append(due, jobs.Probe{ConnectionID: id})
			}
			return due, nil
		},
	}
}

// StartJobs starts working background jobs (Serve and Work call it).
func (a *App) StartJobs(ctx context.Context) error { return a.Jobs.Start(ctx) }

// StopJobs stops taking jobs and lets running ones finish or hands them back
// (bounded by the shutdown timeout).
func (a *App) StopJobs(ctx context.Context) error {
	stop, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.Config.Jobs.ShutdownTimeout+15*time.Second)
	defer cancel()
	return a.Jobs.Stop(stop)
}

// Work runs background jobs only (`patchbay worker`) until ctx is done, then
// shuts down within the shutdown timeout.
func (a *App) Work(ctx context.Context) error {
	if err := a.StartJobs(ctx); err != nil {
		return err
	}
	a.Log.Info("worker started")
	<-ctx.Done()
	a.Log.Info("worker stopping", "timeout", a.Config.Jobs.ShutdownTimeout)
	return a.StopJobs(ctx)
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
	return jobs.Migrate(ctx, pool)
}
