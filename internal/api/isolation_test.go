package api_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"patchbay/internal/app"
	"patchbay/internal/app/apptest"
	"patchbay/internal/store"
)

// routePattern finds API route patterns in Go source, however they are registered.
var routePattern = regexp.MustCompile(`"((?:GET|POST|PUT|PATCH|DELETE) /api/v1/[^"\s]*)"`)

// apiRoutes is every API route the process serves: the route table, plus
// every "METHOD /api/v1/..." literal in internal/ that the mux really routes
// to that pattern (a route another branch registered straight on the mux is
// found too, so this test covers routes added later without editing it).
func apiRoutes(t *testing.T, e *apptest.Env) []string {
	t.Helper()
	mux, ok := e.App.Handler().(*http.ServeMux)
	if !ok {
		t.Fatalf("the app handler is a %T; this test needs the *http.ServeMux to ask which pattern serves a request", e.App.Handler())
	}
	found := map[string]bool{}
	for _, r := range e.App.API.Routes() {
		if strings.Contains(r.Pattern, " /api/v1/") {
			found[r.Pattern] = true
		}
	}
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range routePattern.FindAllStringSubmatch(string(src), -1) {
			found[m[1]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for p := range found {
		method, path, _ := strings.Cut(p, " ")
		req := httptest.NewRequest(method, fill(path, func(string) string { return "x" }), nil)
		if _, got := mux.Handler(req); got == p {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

var wildcard = regexp.MustCompile(`\{[^}]+\}`)

func fill(path string, f func(name string) string) string {
	return wildcard.ReplaceAllStringFunc(path, func(w string) string { return f(strings.Trim(w, "{}.")) })
}

// seedWorkspace gives the default workspace one of everything it can own.
func seedWorkspace(t *testing.T, e *apptest.Env) map[string]string {
	t.Helper()
	ctx := context.Background()
	ids := map[string]string{}
	ids["oauth connection"] = e.ConnectOAuth("hubspot", "acct-iso", nil)
	var dp struct {
		Connection apptest.Connection `json:"connection"`
	}
	e.MustDo(201, "POST", "/connections", map[string]any{"provider": "dataprovider", "api_key": app.DemoDataProviderKey,
		"config": map[string]string{"endpoint_url": e.URL + "/_fakes/dataprovider"}}, &dp)
	ids["api key connection"] = dp.Connection.ID
	tb := &store.Table{WorkspaceID: app.DefaultWorkspace, Name: "Leads", Columns: []store.Column{{Name: "email", Type: "text"}}}
	y := &store.Sync{WorkspaceID: app.DefaultWorkspace, ConnectionID: ids["oauth connection"], Direction: "inbound", Object: "contacts",
		Mapping: []store.Mapping{{Source: "email", Target: "email"}}}
	err := e.Store().InTx(ctx, func(tx *store.Tx) error {
		if err := tx.CreateTable(ctx, tb); err != nil {
			return err
		}
		y.TableID = tb.ID
		return tx.CreateSync(ctx, y)
	})
	if err != nil {
		t.Fatal(err)
	}
	ids["table"], ids["sync"] = tb.ID, y.ID
	run := &store.Run{SyncID: y.ID, WorkspaceID: app.DefaultWorkspace, Trigger: "manual", Status: "succeeded", StartedAt: time.Now(), FinishedAt: time.Now()}
	if err := e.Store().SaveRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	ids["run"] = run.ID
	// A row, written as the sync engine would (the store API for rows lives elsewhere).
	db, err := sql.Open("sqlite", e.SQLitePath())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ids["row"] = store.NewID("row")
	if _, err := db.ExecContext(ctx, `INSERT INTO table_rows (id, table_id, vals, created_at, updated_at) VALUES (?,?,?,?,?)`,
		ids["row"], tb.ID, `{"email":"a@example.com"}`, time.Now().UTC(), time.Now().UTC()); err != nil {
		t.Fatal(err)
	}
	var m struct {
		UserID string `json:"user_id"`
	}
	e.MustDo(201, "POST", "/workspace/members", map[string]any{"email": "iso@example.com", "role": "member"}, &m)
	ids["member"] = m.UserID
	var tok tokenAnswer
	e.MustDo(201, "POST", "/tokens", map[string]any{"name": "iso", "user_id": m.UserID, "role": "member"}, &tok)
	ids["token"] = tok.ID
	evs, err := e.Store().ListEvents(ctx, app.DefaultWorkspace, "", 1)
	if err != nil || len(evs) == 0 {
		t.Fatalf("events: %v", err)
	}
	ids["event"] = evs[0].ID
	return ids
}

// snapshot is what the first workspace sees of itself, minus clocks.
func snapshot(t *testing.T, e *apptest.Env) string {
	t.Helper()
	var parts []string
	for _, p := range []string{"/connections", "/tokens", "/workspace/members"} {
		var v any
		e.MustDo(200, "GET", p, nil, &v)
		parts = append(parts, mustJSON(t, dropClocks(v)))
	}
	return strings.Join(parts, "\n")
}

func dropClocks(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k := range x {
			if k == "last_checked_at" || k == "last_activity_at" {
				delete(x, k)
				continue
			}
			x[k] = dropClocks(x[k])
		}
	case []any:
		for i := range x {
			x[i] = dropClocks(x[i])
		}
	}
	return v
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestWorkspacesAreIsolated calls every API route with another workspace's
// owner token and the first workspace's real ids: a route with ids answers
// 404, as for an id that never existed; a route without ids never returns
// the first workspace's ids, and nothing of the first workspace changes.
func TestWorkspacesAreIsolated(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	ids := seedWorkspace(t, e)
	var all []string
	for _, id := range ids {
		all = append(all, id)
	}
	sort.Strings(all)
	_, other := e.NewWorkspace("Other")
	before := snapshot(t, e)

	leaks := func(body string, except ...string) []string {
		var out []string
		for _, id := range all {
			if !slices.Contains(except, id) && strings.Contains(body, id) {
				out = append(out, id)
			}
		}
		return out
	}
	routes := apiRoutes(t, e)
	if len(routes) < 15 {
		t.Fatalf("found only %d API routes: %v", len(routes), routes)
	}
	calls := 0
	for _, pattern := range routes {
		method, path, _ := strings.Cut(pattern, " ")
		path = strings.TrimPrefix(path, "/api/v1")
		names := wildcard.FindAllString(path, -1)
		if len(names) == 0 {
			// No ids in the path: offer them in the query and in the body.
			q := "?connection_id=" + ids["oauth connection"] + "&table_id=" + ids["table"] + "&sync_id=" + ids["sync"] + "&run_id=" + ids["run"]
			st, body := e.DoAs(other, method, path+q, map[string]any{}, nil)
			calls++
			if l := leaks(body); len(l) > 0 {
				t.Errorf("%s with another workspace's token: %d leaks %v: %s", pattern, st, l, body)
			}
			if method != "GET" {
				st, body = e.DoAs(other, method, path, map[string]any{"connection_id": ids["oauth connection"], "table_id": ids["table"],
					"sync_id": ids["sync"], "run_id": ids["run"]}, nil)
				calls++
				if st < 400 {
					t.Errorf("%s accepted the first workspace's ids in its body: %d %s", pattern, st, body)
				}
			}
			continue
		}
		// Every combination of the first workspace's ids in the wildcards.
		combos := [][]string{{}}
		for range names {
			var next [][]string
			for _, c := range combos {
				for _, id := range all {
					next = append(next, append(slices.Clone(c), id))
				}
			}
			combos = next
		}
		for _, c := range combos {
			i := 0
			p := fill(path, func(string) string { i++; return c[i-1] })
			st, body := e.DoAs(other, method, p, map[string]any{}, nil)
			calls++
			if st != http.StatusNotFound {
				// Only an answer that does not depend on the id is no leak: the
				// same status and text as for ids that never existed.
				j := 0
				ghosts := make([]string, len(c))
				q := fill(path, func(string) string { ghosts[j] = store.NewID("nope"); j++; return ghosts[j-1] })
				gst, gbody := e.DoAs(other, method, q, map[string]any{}, nil)
				for k := range c {
					gbody = strings.ReplaceAll(gbody, ghosts[k], c[k])
				}
				if st < 400 || st == http.StatusForbidden || st != gst || body != gbody {
					t.Errorf("%s %s with another workspace's token: %d, want 404 (or the answer for an unknown id, %d): %s", method, p, st, gst, body)
				}
			}
			if l := leaks(body, c...); len(l) > 0 {
				t.Errorf("%s %s leaks %v: %s", method, p, l, body)
			}
		}
	}
	if after := snapshot(t, e); after != before {
		t.Errorf("the first workspace changed:\nbefore %s\nafter  %s", before, after)
	}
	// The ids were real: the first workspace reaches them.
	e.MustDo(200, "GET", "/connections/"+ids["oauth connection"], nil, nil)
	t.Logf("%d routes, %d cross-workspace calls", len(routes), calls)
}
