package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"patchbay/internal/app"
	"patchbay/internal/app/apptest"
	"patchbay/internal/store"
)

// waitRun waits until a run of the sync satisfies ok (runs happen in the
// background scheduler; the condition is the signal, the deadline a guard).
func waitRun(t *testing.T, e *apptest.Env, syncID string, ok func(*store.Run) bool) *store.Run {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		runs, err := e.Store().ListRuns(context.Background(), app.DefaultWorkspace, syncID, "", 50)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range runs {
			if ok(r) {
				return r
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no matching run of %s within 20s", syncID)
	return nil
}

func jsonDecode(resp *http.Response, v any) error { return json.NewDecoder(resp.Body).Decode(v) }
