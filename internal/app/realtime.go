package app

import (
	"context"
	"errors"
	"time"

	"patchbay/internal/connection"
	"patchbay/internal/jobs"
	"patchbay/internal/store"
	"patchbay/internal/syncer"
)

// Real time on the job engine: a provider's notification enqueues a Notify
// job (debounced, one per sync while pending); the job asks for an
// incremental run_sync. Subscriptions at the providers are reconciled by
// Subscribe jobs when a realtime sync is saved, a connection reconnects, and
// when the sweep finds one due for its check or renewal.

// notifyRealtime asks for a debounced run of a realtime sync.
func (a *App) notifyRealtime(ctx context.Context, syncID string) error {
	_, err := a.Jobs.Enqueue(ctx, jobs.Notify{SyncID: syncID})
	return err
}

// realtimeNotified is the Notify job: it reads the payloads a ping announced
// (Airtable) and enqueues the run. When a run of the sync is queued or
// running already, the job waits for it and then asks for one more, so a
// change that arrived during a run is read by the next.
func (a *App) realtimeNotified(ctx context.Context, syncID string) error {
	y, err := a.Store.SyncByID(ctx, syncID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := a.Conns.FetchPayloads(ctx, y.ConnectionID, y.Object); err != nil {
		// The run re-reads the records anyway; the next ping fetches again.
		a.Log.Warn("read notification payloads", "sync", syncID, "err", err)
	}
	r, err := a.Jobs.Enqueue(ctx, jobs.RunSync{SyncID: syncID, Trigger: syncer.TriggerWebhook})
	if err != nil {
		return err
	}
	if r.Duplicate {
		return jobs.Snooze(time.Second)
	}
	return nil
}

// subscribeConnection enqueues the reconciliation of a connection's subscriptions.
func (a *App) subscribeConnection(ctx context.Context, connID string) {
	if _, err := a.Jobs.Enqueue(ctx, jobs.Subscribe{ConnectionID: connID}); err != nil {
		a.Log.Warn("enqueue realtime subscription; the next sweep finds it", "connection", connID, "err", err)
	}
}

// syncSaved: an inbound sync saved may need (or no longer need) a subscription.
func (a *App) syncSaved(ctx context.Context, y *store.Sync) {
	if y.Direction == syncer.Inbound {
		a.subscribeConnection(ctx, y.ConnectionID)
	}
}

// realtimeDue is the sweep's share of real time: connections whose
// subscriptions are due for a check, a renewal or a retry, or that no sync
// needs any more. It also forgets delivery ids older than a day.
func (a *App) realtimeDue(ctx context.Context, now time.Time) ([]jobs.Args, error) {
	if err := a.Store.PruneDeliveries(ctx, now.Add(-24*time.Hour)); err != nil {
		a.Log.Warn("prune realtime deliveries", "err", err)
	}
	subs, err := a.Store.SubscriptionsDue(ctx, now.Add(-connection.CheckInterval), now.Add(-time.Minute))
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var due []jobs.Args
	for _, s := range subs {
		if !seen[s.ConnectionID] {
			seen[s.ConnectionID] = true
			due = append(due, jobs.Subscribe{ConnectionID: s.ConnectionID})
		}
	}
	missing, err := a.Store.UnsubscribedRealtime(ctx)
	if err != nil {
		return nil, err
	}
	for id, provider := range missing {
		if !seen[id] && a.Conns.Subscribes(provider) {
			seen[id] = true
			due = append(due, jobs.Subscribe{ConnectionID: id})
		}
	}
	return due, nil
}
