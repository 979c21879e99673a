package api

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"patchbay/internal/access"
	"patchbay/internal/connection"
	"patchbay/internal/store"
)

// A route another part of Patchbay registers straight on the mux with
// h.authenticated, without naming a role, still gets one: viewer for reads,
// admin for writes, the contract's for the contract's routes.
func TestRoutesRegisteredElsewhereGetTheSafeDefault(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := store.OpenTest(t, store.SQLite)
	if _, err := st.EnsureWorkspace(ctx, "ws", "W", "standard"); err != nil {
		t.Fatal(err)
	}
	tokens := map[access.Role]string{}
	for _, r := range access.Roles() {
		tokens[r] = "tok-" + string(r)
		if err := st.CreateToken(ctx, &store.Token{WorkspaceID: "ws", Name: string(r), Role: string(r)}, connection.HashToken(tokens[r])); err != nil {
			t.Fatal(err)
		}
	}
	h := New(st, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	mux := http.NewServeMux()
	ok := func(w http.ResponseWriter, r *http.Request, _ *Principal) { w.WriteHeader(http.StatusNoContent) }
	for _, p := range []string{"GET /api/v1/future/{id}", "DELETE /api/v1/future/{id}", "POST /api/v1/future", "POST /api/v1/syncs/{id}/run"} {
		mux.Handle(p, h.authenticated(ok))
	}
	tests := []struct {
		method, path string
		least        access.Role
	}{
		{"GET", "/api/v1/future/1", access.Viewer},
		{"DELETE", "/api/v1/future/1", access.Admin},
		{"POST", "/api/v1/future", access.Admin},
		{"POST", "/api/v1/syncs/1/run", access.Member},
	}
	for _, tc := range tests {
		for _, role := range access.Roles() {
			req := httptest.NewRequest(tc.method, tc.path, nil)
			req.Header.Set("Authorization", "Bearer "+tokens[role])
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, req)
			want := http.StatusNoContent
			if !role.AtLeast(tc.least) {
				want = http.StatusForbidden
			}
			if rec.Code != want {
				t.Errorf("%s %s as %s: %d, want %d", tc.method, tc.path, role, rec.Code, want)
			}
			if want == http.StatusForbidden && (!strings.Contains(rec.Body.String(), string(tc.least)) || rec.Header().Get("Content-Type") != "application/problem+json") {
				t.Errorf("403 does not name %s: %s", tc.least, rec.Body)
			}
		}
	}
}
