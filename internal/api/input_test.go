package api_test

import (
	"net/http"
	"strings"
	"testing"

	"patchbay/internal/app"
	"patchbay/internal/app/apptest"
)

// Oversized, malformed and non-UTF-8 bodies are refused over real HTTP with nothing written.
func TestHostileBodiesWriteNothing(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	big := map[string]any{"provider": "hubspot", "notes": strings.Repeat("x", 2<<20)}
	tests := []struct {
		name, method, path string
		body               any
		want               int
	}{
		{"oversized connect", "POST", "/connections", big, http.StatusRequestEntityTooLarge},
		{"oversized token", "POST", "/tokens", map[string]any{"name": strings.Repeat("n", 2<<20)}, http.StatusRequestEntityTooLarge},
		{"malformed member", "POST", "/workspace/members", "{\"email\":", http.StatusUnprocessableEntity},
		{"unknown field token", "POST", "/tokens", map[string]any{"name": "x", "admin": true}, http.StatusUnprocessableEntity},
		{"wrong type", "POST", "/connections", map[string]any{"provider": 7}, http.StatusUnprocessableEntity},
		{"invalid UTF-8 token", "POST", "/tokens", []byte("{\"name\":\"caf\xe9\"}"), http.StatusBadRequest},
		{"invalid UTF-8 member", "POST", "/workspace/members", []byte("{\"email\":\"a@b.example\",\"name\":\"\xff\xfe\"}"), http.StatusBadRequest},
	}
	for _, tc := range tests {
		st, body := e.Do(tc.method, tc.path, tc.body, nil)
		if st != tc.want || !strings.Contains(body, `"status":`) {
			t.Errorf("%s: %d %s", tc.name, st, body[:min(len(body), 300)])
		}
	}
	ctx := t.Context()
	if conns, _ := e.Store().ListConnections(ctx, app.DefaultWorkspace); len(conns) != 0 {
		t.Errorf("%d connections written", len(conns))
	}
	if toks, _ := e.Store().ListTokens(ctx, app.DefaultWorkspace, ""); len(toks) != 1 {
		t.Errorf("%d tokens, want only the bootstrap one", len(toks))
	}
	if ms, _ := e.Store().ListMembers(ctx, app.DefaultWorkspace); len(ms) != 0 {
		t.Errorf("%d members written", len(ms))
	}
}
