package app

import (
	"context"
	"time"

	"patchbay/internal/store"
)

// recoverRuns closes the records of runs a previous process left "running"
// when it died (SIGKILL, power loss): they say interrupted, and the next run
// resumes from the last page the dead one committed (its lease ends too, so
// the sync can run at once). Only on SQLite, which one
// process serves; on PostgreSQL another process may be running them.
func (a *App) recoverRuns(ctx context.Context) error {
	if a.Store.Dialect() == store.Postgres {
		return nil
	}
	n, err := a.Store.InterruptOrphanRuns(ctx, "the process stopped during the run (crash or kill); the next run resumes from the last saved page", time.Now())
	if n > 0 {
		a.Log.Warn("runs left running by a stopped process recorded as interrupted", "runs", n)
	}
	if err != nil {
		return err
	}
	_, err = a.Store.ReleaseOrphanLeases(ctx)
	return err
}
