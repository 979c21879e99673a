package app_test

import (
	"context"
	"testing"
	"time"

	"patchbay/internal/app"
	"patchbay/internal/store"
)

// A database made by the first release (schema 00001, rows written as that
// release wrote them) upgrades with `patchbay migrate`, twice without harm,
// and keeps its data.
func TestMigrateUpgradesTheFirstRelease(t *testing.T) {
	t.Parallel()
	for _, dialect := range []string{store.SQLite, store.Postgres} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dsn := store.TestDSN(t, dialect)
			old, err := store.OpenAt(ctx, dsn, 1)
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now().UTC().Truncate(time.Second)
			for _, row := range []struct {
				q    string
				args []any
			}{
				{`INSERT INTO workspaces (id, name, plan, created_at) VALUES (?,?,?,?)`, []any{"default", "Default workspace", "standard", now}},
				{`INSERT INTO api_tokens (id, workspace_id, name, token_hash, role, created_at) VALUES (?,?,?,?,?,?)`,
					[]any{"tok_1", "default", "bootstrap", "hash1", "admin", now}},
				{`INSERT INTO connections (id, workspace_id, provider, status, config, scopes_granted, account_id, account_name,
					connected_at, expires_at, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`,
					[]any{"con_1", "default", "hubspot", "connected", `{"portal_id":"42"}`, `["oauth"]`, "42", "Acme", now, now.Add(time.Hour), now, now}},
				{`INSERT INTO credentials (connection_id, key_id, ciphertext, updated_at) VALUES (?,?,?,?)`, []any{"con_1", "k1", []byte{1, 2, 3}, now}},
				{`INSERT INTO data_tables (id, workspace_id, name, columns, created_at, updated_at) VALUES (?,?,?,?,?,?)`,
					[]any{"tbl_1", "default", "Leads", `[{"name":"email","type":"text"}]`, now, now}},
				{`INSERT INTO syncs (id, workspace_id, connection_id, table_id, direction, object, mapping, schedule, next_run_at, created_at, updated_at)
					VALUES (?,?,?,?,?,?,?,?,?,?,?)`,
					[]any{"syn_1", "default", "con_1", "tbl_1", "inbound", "contacts", `[{"source":"email","target":"email"}]`, "every:15m", now, now, now}},
				{`INSERT INTO sync_runs (id, sync_id, workspace_id, trigger, status, started_at, finished_at, n_read, n_created)
					VALUES (?,?,?,?,?,?,?,?,?)`, []any{"run_1", "syn_1", "default", "schedule", "succeeded", now, now, 5, 5}},
				{`INSERT INTO events (id, workspace_id, connection_id, kind, message, created_at) VALUES (?,?,?,?,?,?)`,
					[]any{"evt_1", "default", "con_1", "connection.connected", "HubSpot connected", now}},
			} {
				if err := old.Exec(ctx, row.q, row.args...); err != nil {
					t.Fatalf("first-release row: %v", err)
				}
			}
			old.Close()

			for range 2 {
				if err := app.Migrate(ctx, dsn); err != nil {
					t.Fatal(err)
				}
			}
			st, err := store.Open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			c, err := st.GetConnection(ctx, "default", "con_1")
			if err != nil || c.Status != "connected" || c.AccountName != "Acme" || c.Config["portal_id"] != "42" || !c.ExpiresAt.Equal(now.Add(time.Hour)) {
				t.Fatalf("connection after upgrade: %+v %v", c, err)
			}
			if cr, err := st.Credential(ctx, "con_1"); err != nil || string(cr.Ciphertext) != "\x01\x02\x03" {
				t.Fatalf("credentials after upgrade: %v", err)
			}
			y, err := st.GetSync(ctx, "default", "syn_1")
			if err != nil || y.Schedule != "every:15m" || len(y.Mapping) != 1 || !y.NextRunAt.Equal(now) {
				t.Fatalf("sync after upgrade: %+v %v", y, err)
			}
			if runs, err := st.ListRuns(ctx, "default", "syn_1", "", 10); err != nil || len(runs) != 1 || runs[0].Created != 5 {
				t.Fatalf("runs after upgrade: %v", err)
			}
			if evs, err := st.ListEvents(ctx, "default", "con_1", 10); err != nil || len(evs) != 1 {
				t.Fatalf("events after upgrade: %v", err)
			}
			// Migration 00060 makes the first release's bootstrap admin the workspace's owner.
			if tok, err := st.TokenByHash(ctx, "hash1"); err != nil || tok.Role != "owner" {
				t.Fatalf("token after upgrade: %+v %v", tok, err)
			}
			if due, err := st.DueSyncs(ctx, now.Add(time.Minute)); err != nil || len(due) != 1 {
				t.Fatalf("due syncs after upgrade: %v %v", due, err)
			}
			if dialect == store.Postgres {
				if err := st.Exec(ctx, `SELECT count(*) FROM river_job`); err != nil {
					t.Fatalf("River's tables after migrate: %v", err)
				}
			}
		})
	}
}
