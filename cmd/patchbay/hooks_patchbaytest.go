//go:build patchbaytest

package main

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"time"

	"patchbay/internal/app"
	"patchbay/internal/config"
	"patchbay/internal/store"
)

// testHooks plugs in what the multi-process tests need from a worker built
// with -tags patchbaytest:
//
//   - PATCHBAY_TESTHOOK_PROVIDER_URLS=hubspot=http://…,… points providers at
//     fakes served by the test process;
//   - unless PATCHBAY_TESTHOOK_SYNC=engine (the real sync engine runs the
//     syncs then), a run_sync function standing in for the sync engine. Each run records
//     its start in testhook_runs (every execution, with this process's pid),
//     waits PATCHBAY_TESTHOOK_RUN_DELAY (and, when PATCHBAY_TESTHOOK_BARRIER
//     names a file, until that file exists, so that runs in many processes
//     call the provider at the same moment), makes one provider call for the
//     sync's connection (the identity probe, which refreshes a refused token),
//     records its effect in testhook_effects idempotently (one row per sync
//     however often it runs: the property a real sync's upserts have), and
//     clears the sync's next run time as the sync engine does after a run.
//     The test creates both tables.
func testHooks(cfg *config.Config, opts *app.Options, current func() *app.App) error {
	if v := os.Getenv("PATCHBAY_TESTHOOK_PROVIDER_URLS"); v != "" {
		opts.ProviderURLs = map[string]string{}
		for _, kv := range strings.Split(v, ",") {
			id, u, ok := strings.Cut(kv, "=")
			if !ok {
				return fmt.Errorf("PATCHBAY_TESTHOOK_PROVIDER_URLS: %q is not provider=url", kv)
			}
			opts.ProviderURLs[id] = u
		}
	}
	if os.Getenv("PATCHBAY_TESTHOOK_SYNC") == "engine" {
		return nil
	}
	delay, err := time.ParseDuration(cmp.Or(os.Getenv("PATCHBAY_TESTHOOK_RUN_DELAY"), "0s"))
	if err != nil {
		return fmt.Errorf("PATCHBAY_TESTHOOK_RUN_DELAY: %w", err)
	}
	db, err := sql.Open("pgx", cfg.DSN())
	if err != nil {
		return err
	}
	barrier := os.Getenv("PATCHBAY_TESTHOOK_BARRIER")
	pid := os.Getpid()
	opts.RunSync = func(ctx context.Context, syncID, trigger string) error {
		a := current()
		if _, err := db.ExecContext(ctx, `INSERT INTO testhook_runs (sync_id, trigger, pid) VALUES ($1, $2, $3)`, syncID, trigger, pid); err != nil {
			return err
		}
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return ctx.Err()
		}
		if err := awaitBarrier(ctx, barrier); err != nil {
			return err
		}
		y, err := a.Store.GetSync(ctx, app.DefaultWorkspace, syncID)
		if err != nil {
			return err
		}
		c, err := a.Store.ConnectionByID(ctx, y.ConnectionID)
		if err != nil {
			return err
		}
		if c, err = a.Conns.Probe(ctx, c); err != nil {
			return err
		}
		if c.Status != "connected" {
			return fmt.Errorf("sync %s: connection %s is %s/%s: %s", syncID, c.ID, c.Status, c.Reason, c.LastError)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO testhook_effects (sync_id, pid) VALUES ($1, $2) ON CONFLICT (sync_id) DO NOTHING`, syncID, pid); err != nil {
			return err
		}
		y.NextRunAt = time.Time{}
		return a.Store.InTx(ctx, func(tx *store.Tx) error { return tx.UpdateSync(ctx, y) })
	}
	return nil
}

func awaitBarrier(ctx context.Context, path string) error {
	if path == "" {
		return nil
	}
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
