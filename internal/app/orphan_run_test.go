package app_test

import (
	"context"
	"testing"
	"time"

	"patchbay/internal/app"
	"patchbay/internal/app/apptest"
	"patchbay/internal/store"
)

// A run left "running" by a worker that died (SIGKILL on PostgreSQL, where
// start-up cannot tell dead processes from live ones) is recorded as
// interrupted by the next run of that sync, which holds the sync's lock.
func TestNextRunRecordsAnOrphanRunAsInterrupted(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	conn := e.ConnectOAuth("hubspot", "acct-orphan", nil, contactScopes...)
	seedContacts(t, e, "acct-orphan", 3, segmentContact)
	tbl := createTable(e, "email")
	id := createSync(e, map[string]any{"direction": "inbound", "connection_id": conn, "table_id": tbl, "object": "contacts",
		"mapping": []map[string]string{{"source": "email", "target": "email"}}})
	ctx := context.Background()
	orphan := &store.Run{SyncID: id, WorkspaceID: app.DefaultWorkspace, Trigger: "schedule", Status: "running",
		StartedAt: time.Now().Add(-time.Hour)}
	if err := e.Store().SaveRun(ctx, orphan); err != nil {
		t.Fatal(err)
	}
	if r := runSync(e, id, nil); r.Status != "succeeded" || r.Created != 3 {
		t.Fatalf("run after the orphan: %+v", r)
	}
	runs, err := e.Store().ListRuns(ctx, app.DefaultWorkspace, id, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		if r.ID == orphan.ID && (r.Status != "interrupted" || r.ErrorClass != "interrupted" || r.FinishedAt.IsZero()) {
			t.Fatalf("orphan run after the next run: %+v", r)
		}
	}
}
