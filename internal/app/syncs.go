package app

import (
	"context"
	"net/http"
	"time"

	"patchbay/internal/api"
	"patchbay/internal/connection"
	"patchbay/internal/connector/hubspot"
	"patchbay/internal/enrich"
	"patchbay/internal/store"
	"patchbay/internal/syncer"
	"patchbay/internal/tables"
)

// dataParts are the tables, the sync engine and its scheduler. The
// connection service is built before them and reaches them through these
// hooks (it is told about reconnects).
type dataParts struct {
	engine    *syncer.Engine
	scheduler *syncer.Scheduler
	enricher  *enrich.Service
}

// afterReconnect queues one catch-up run per sync a reconnect resumed.
func (d *dataParts) afterReconnect(_ context.Context, _ *store.Connection, resumed []string) {
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
	sched = syncer.NewScheduler(syncer.SchedulerConfig{Engine: d.engine, Store: a.Store, Logger: a.Log,
		RunRetention: a.Config.RunRetention})
	d.scheduler = sched
	var hooks http.Handler
	if cl, ok := clients["hubspot"]; ok && cl.Secret != "" {
		hooks = syncer.NewWebhookHandler(syncer.WebhookConfig{
			Provider: "hubspot", Secret: cl.Secret, BaseURL: baseURL, Store: a.Store, Scheduler: sched, Logger: a.Log,
			Parse: hubspot.ParseWebhook,
			Verify: func(secret, method, uri string, body []byte, h http.Header, now time.Time) error {
				return hubspot.VerifyWebhook(secret, method, uri, body, h.Get(hubspot.SignatureHeader), h.Get(hubspot.TimestampHeader), now)
			},
		})
	}
	a.API.SetData(api.DataDeps{Tables: &tables.Service{Store: a.Store, RowsChanged: rowsChanged}, Syncs: d.engine, Webhooks: hooks})
}

// Engine is the sync engine (tests and the CLI run syncs through it).
func (a *App) Engine() *syncer.Engine { return a.data.engine }

// Scheduler is the in-process sync scheduler.
func (a *App) Scheduler() *syncer.Scheduler { return a.data.scheduler }
