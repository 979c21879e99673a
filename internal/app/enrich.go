package app

import (
	"context"

	"patchbay/internal/bridge"
	"patchbay/internal/enrich"
)

// wireEnrich builds the enrichment service and the webhook bridge. Rows created or changed by the
// API, syncs or the webhook bridge reach it through the data parts'
// rowsChanged hook; the rows it enriches go to the outbound realtime syncs.
func (a *App) wireEnrich(d *dataParts, tune func(*enrich.Config)) {
	cfg := enrich.Config{Store: a.Store, Conns: a.Conns, Logger: a.Log, RowsChanged: d.scheduler.RowsChanged}
	if tune != nil {
		tune(&cfg)
	}
	d.enricher = enrich.New(cfg)
	a.API.SetEnrich(d.enricher)
	a.API.SetBridge(&bridge.Service{Store: a.Store, Vault: a.Vault, RowsChanged: func(tableID string) {
		d.scheduler.RowsChanged(tableID)
		d.enricher.Notify(tableID)
	}})
}

// startEnrich runs the enrichment workers until ctx ends; stop waits for them.
func (a *App) startEnrich(ctx context.Context) (stop func(), err error) {
	if err := a.data.enricher.Start(ctx); err != nil {
		return nil, err
	}
	return a.data.enricher.Stop, nil
}

// Enricher is the enrichment service (tests and benchmarks drive it).
func (a *App) Enricher() *enrich.Service { return a.data.enricher }
