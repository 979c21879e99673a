package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"patchbay/internal/api"
	"patchbay/internal/connection"
	"patchbay/internal/connector/hubspot"
	"patchbay/internal/enrich"
	"patchbay/internal/jobs"
	"patchbay/internal/store"
	"patchbay/internal/syncer"
	"patchbay/internal/tables"
)

// dataParts are the tables, the sync engine and its scheduler. The
// connection service is built before them and reaches them through these
// hooks (it is told about reconnects).
//
// The job engine runs every sync run but Sync now (which answers with the
// run): the run_sync job calls runSyncJob, the sweep finds the scheduled
// runs, and the scheduler turns row changes, webhooks and reconnects into
// run_sync jobs.
type dataParts struct {
	engine    *syncer.Engine
	scheduler *syncer.Scheduler
	enricher  *enrich.Service
	// subscribe reconciles a connection's change subscriptions (a job).
	subscribe func(ctx context.Context, connID string)
}

// afterReconnect queues one catch-up run per sync a reconnect resumed, and
// the reconciliation of the connection's change subscriptions.
func (d *dataParts) afterReconnect(ctx context.Context, c *store.Connection, resumed []string) {
	if d.subscribe != nil {
		d.subscribe(ctx, c.ID) // and its change subscriptions are made again
	}
	if d.scheduler == nil {
		return
	}
	for _, id := range resumed {
		d.scheduler.Queue(id, syncer.TriggerReconnect, time.Now())
	}
}

// wireData builds the engine and scheduler and mounts their routes on the API.
func (a *App) wireData(d *dataParts, baseURL string, clients map[string]connection.ClientCredentials) {
	var sched *syncer.Scheduler
	rowsChanged := func(tableID string) {
		if sched != nil {
			sched.RowsChanged(tableID)
		}
		if d.enricher != nil {
			d.enricher.Notify(tableID)
		}
	}
	d.engine = syncer.New(syncer.Config{Store: a.Store, Conns: a.Conns, Logger: a.Log, RowsChanged: rowsChanged})
	sched = syncer.NewScheduler(syncer.SchedulerConfig{Store: a.Store, Logger: a.Log, RunRetention: a.Config.RunRetention,
		Dispatch: func(ctx context.Context, syncID, trigger string) (bool, error) {
			r, err := a.Jobs.Enqueue(ctx, jobs.RunSync{SyncID: syncID, Trigger: trigger})
			return err == nil && !r.Duplicate, err
		}})
	d.scheduler = sched
	d.subscribe = a.subscribeConnection
	var hooks http.Handler
	if cl, ok := clients["hubspot"]; ok && cl.Secret != "" {
		hooks = syncer.NewWebhookHandler(syncer.WebhookConfig{
			Provider: "hubspot", Secret: cl.Secret, BaseURL: baseURL, Store: a.Store, Notify: a.notifyRealtime, Logger: a.Log,
			Parse: hubspot.ParseWebhook,
			Verify: func(secret, method, uri string, body []byte, h http.Header, now time.Time) error {
				return hubspot.VerifyWebhook(secret, method, uri, body, h.Get(hubspot.SignatureHeader), h.Get(hubspot.TimestampHeader), now)
			},
		})
	}
	dueNow := func(ctx context.Context, syncID string) {
		if _, err := a.Jobs.Enqueue(ctx, jobs.RunSync{SyncID: syncID, Trigger: syncer.TriggerSchedule}); err != nil {
			a.Log.Warn("enqueue a sync's first run; the next sweep finds it", "sync", syncID, "err", err)
		}
	}
	a.API.SetData(api.DataDeps{Tables: &tables.Service{Store: a.Store, RowsChanged: rowsChanged}, Syncs: d.engine, Webhooks: hooks, DueNow: dueNow,
		Saved: a.syncSaved, Notify: a.notifyRealtime})
}

// busyRetry is how long a run_sync job waits when its sync is running
// already (a Sync now, or a run in another process whose job was handed on).
const busyRetry = 5 * time.Second

// runSyncJob is the run_sync job: one run of the sync engine. What the run
// met is in its record; the job fails only when the run could not finish.
func (a *App) runSyncJob(ctx context.Context, syncID, trigger string) error {
	res, err := a.data.engine.Run(ctx, syncID, syncer.Options{Trigger: trigger})
	var paused *syncer.PausedError
	switch {
	case errors.As(err, &paused), errors.Is(err, store.ErrNotFound):
		return nil // paused or deleted since it was queued: nothing to do
	case errors.Is(err, syncer.ErrBusy):
		// Snoozing, unlike failing, does not use up the job's attempts:
		// however long the other run takes, this one still follows it.
		return jobs.Snooze(busyRetry)
	case err != nil:
		return err
	case res.Run.Status == syncer.StatusInterrupted && ctx.Err() != nil:
		// Stopped midway by a shutdown or the job timeout: hand the job
		// back; its next attempt resumes from the last saved page.
		return fmt.Errorf("sync %s: %w", syncID, ctx.Err())
	}
	return nil
}

// Engine is the sync engine (tests and the CLI run syncs through it).
func (a *App) Engine() *syncer.Engine { return a.data.engine }

// Scheduler turns row changes, webhooks and reconnects into run_sync jobs.
func (a *App) Scheduler() *syncer.Scheduler { return a.data.scheduler }
