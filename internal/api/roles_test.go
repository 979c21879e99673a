package api_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"patchbay/internal/app"
	"patchbay/internal/app/apptest"
	"patchbay/internal/connection"
	"patchbay/internal/store"
)

type tokenAnswer struct {
	ID    string `json:"id"`
	Role  string `json:"role"`
	Token string `json:"token"`
}

// members adds an admin, a member and a viewer to the default workspace and
// returns a token of each role (made through the API), keyed by role.
func members(t *testing.T, e *apptest.Env) map[string]string {
	t.Helper()
	tokens := map[string]string{"owner": apptest.Token}
	for _, role := range []string{"admin", "member", "viewer"} {
		var m struct {
			UserID string `json:"user_id"`
		}
		e.MustDo(201, "POST", "/workspace/members", map[string]any{"email": role + "@example.com", "name": role, "role": role}, &m)
		var tok tokenAnswer
		e.MustDo(201, "POST", "/tokens", map[string]any{"name": role + " token", "user_id": m.UserID, "role": role}, &tok)
		if tok.Token == "" || tok.Role != role {
			t.Fatalf("token answer %+v", tok)
		}
		tokens[role] = tok.Token
	}
	return tokens
}

func TestRolesGateEveryAction(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	tokens := members(t, e)
	conn := e.ConnectOAuth("hubspot", "acct-roles", nil)

	tests := []struct {
		method, path string
		body         any
		least        string // least role that may
		ok           int
	}{
		{"GET", "/integrations", nil, "viewer", 200},
		{"GET", "/connections/" + conn, nil, "viewer", 200},
		{"GET", "/events", nil, "viewer", 200},
		{"GET", "/workspace/members", nil, "viewer", 200},
		{"PATCH", "/connections/" + conn, map[string]any{"notes": "hi"}, "member", 200},
		{"POST", "/connections/" + conn + "/test", nil, "member", 200},
		{"POST", "/connections", map[string]any{"provider": "hubspot"}, "admin", 201},
		{"POST", "/connections/" + conn + "/reconnect", nil, "admin", 200},
		{"POST", "/workspace/members", nil, "admin", 201},
		{"POST", "/connections/" + conn + "/disconnect", nil, "admin", 200},
	}
	order := []string{"viewer", "member", "admin", "owner"}
	for _, tc := range tests {
		allowed := false
		for _, role := range order {
			allowed = allowed || role == tc.least
			body := tc.body
			if tc.path == "/workspace/members" && tc.method == "POST" {
				body = map[string]any{"email": "new-" + role + "@example.com", "role": "viewer"}
			}
			st, text := e.DoAs(tokens[role], tc.method, tc.path, body, nil)
			switch {
			case allowed && st != tc.ok:
				t.Errorf("%s %s as %s: %d, want %d: %s", tc.method, tc.path, role, st, tc.ok, text)
			case !allowed && (st != 403 || !strings.Contains(text, `"required_role":"`+tc.least+`"`)):
				t.Errorf("%s %s as %s: %d, want 403 naming %s: %s", tc.method, tc.path, role, st, tc.least, text)
			}
		}
	}
}

func TestTokensLifecycle(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	tokens := members(t, e)
	ctx := context.Background()

	// A viewer makes viewer tokens for itself, never stronger ones, never for others.
	var tok tokenAnswer
	e.MustDo(201, "POST", "/tokens", map[string]any{"name": "mine", "expires_in": "24h"}, &tok)
	if st, body := e.DoAs(tokens["viewer"], "POST", "/tokens", map[string]any{"name": "up", "role": "admin"}, nil); st != 403 || !strings.Contains(body, `"required_role":"admin"`) {
		t.Fatalf("viewer minted an admin token: %d %s", st, body)
	}
	var vt tokenAnswer
	if st, body := e.DoAs(tokens["viewer"], "POST", "/tokens", map[string]any{"name": "ro"}, &vt); st != 201 || vt.Role != "viewer" {
		t.Fatalf("viewer token: %d %s", st, body)
	}
	if st, body := e.DoAs(tokens["viewer"], "DELETE", "/tokens/"+tok.ID, nil, nil); st != 403 {
		t.Fatalf("viewer revoked the owner's token: %d %s", st, body)
	}
	// A viewer lists only its own tokens; the owner lists them all.
	var list struct {
		Tokens []struct {
			ID     string `json:"id"`
			UserID string `json:"user_id"`
			Token  string `json:"token"`
		} `json:"tokens"`
	}
	e.MustDo(200, "GET", "/tokens", nil, &list)
	if len(list.Tokens) < 6 {
		t.Fatalf("owner sees %d tokens", len(list.Tokens))
	}
	for _, x := range list.Tokens {
		if x.Token != "" {
			t.Fatal("a token value was listed")
		}
	}
	e.DoAs(tokens["viewer"], "GET", "/tokens", nil, &list)
	if len(list.Tokens) != 2 {
		t.Fatalf("viewer sees %d tokens, want its 2", len(list.Tokens))
	}

	// Tokens are stored hashed.
	if err := e.Store().Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(e.SQLitePath())
	for _, v := range []string{tok.Token, vt.Token, tokens["admin"], apptest.Token} {
		if bytes.Contains(raw, []byte(v)) {
			t.Fatal("a token value is in the database file")
		}
	}

	// Revoked: 401 at once.
	e.MustDo(200, "DELETE", "/tokens/"+tok.ID, nil, nil)
	if st, _ := e.DoAs(tok.Token, "GET", "/integrations", nil, nil); st != 401 {
		t.Fatalf("revoked token answered %d", st)
	}
	// Expired: 401.
	old := &store.Token{WorkspaceID: app.DefaultWorkspace, Name: "old", Role: "admin", ExpiresAt: time.Now().Add(-time.Minute)}
	if err := e.Store().CreateToken(ctx, old, connection.HashToken("expired-token-value")); err != nil {
		t.Fatal(err)
	}
	if st, _ := e.DoAs("expired-token-value", "GET", "/integrations", nil, nil); st != 401 {
		t.Fatalf("expired token answered %d", st)
	}

	// A member demoted to viewer: its admin-made member token now acts as viewer.
	var ms struct {
		Members []struct {
			UserID string `json:"user_id"`
			Email  string `json:"email"`
		} `json:"members"`
	}
	e.MustDo(200, "GET", "/workspace/members", nil, &ms)
	ids := map[string]string{}
	for _, m := range ms.Members {
		ids[m.Email] = m.UserID
	}
	e.MustDo(200, "PATCH", "/workspace/members/"+ids["member@example.com"], map[string]any{"role": "viewer"}, nil)
	var ws struct {
		Role string `json:"role"`
	}
	e.DoAs(tokens["member"], "GET", "/workspace", nil, &ws)
	if ws.Role != "viewer" {
		t.Fatalf("demoted member's token acts as %q", ws.Role)
	}
	// Admins cannot touch owners; a removed member's tokens stop working.
	if st, body := e.DoAs(tokens["admin"], "PATCH", "/workspace/members/"+ids["member@example.com"], map[string]any{"role": "owner"}, nil); st != 403 || !strings.Contains(body, "owner") {
		t.Fatalf("admin appointed an owner: %d %s", st, body)
	}
	e.MustDo(200, "DELETE", "/workspace/members/"+ids["admin@example.com"], nil, nil)
	if st, _ := e.DoAs(tokens["admin"], "GET", "/integrations", nil, nil); st != 401 {
		t.Fatalf("removed member's token answered %d", st)
	}
	// The last owner stays.
	e.MustDo(201, "POST", "/workspace/members", map[string]any{"email": "boss@example.com", "role": "owner"}, nil)
	e.MustDo(200, "GET", "/workspace/members", nil, &ms)
	for _, m := range ms.Members {
		if m.Email == "boss@example.com" {
			if st, body := e.Do("DELETE", "/workspace/members/"+m.UserID, nil, nil); st != 409 || !strings.Contains(body, "last owner") {
				t.Fatalf("removed the last owner: %d %s", st, body)
			}
		}
	}
	// Bad input is named.
	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"name": ""}, "name"},
		{map[string]any{"name": "x", "role": "root"}, "role"},
		{map[string]any{"name": "x", "expires_in": "forever"}, "expires_in"},
	} {
		if st, body := e.Do("POST", "/tokens", tc.body, nil); st != 422 || !strings.Contains(body, `"field":"`+tc.field+`"`) {
			t.Errorf("POST /tokens %v: %d %s", tc.body, st, body)
		}
	}
}

func TestBootstrapTokenIsOwner(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	var ws struct {
		ID   string `json:"id"`
		Role string `json:"role"`
	}
	e.MustDo(200, "GET", "/workspace", nil, &ws)
	if ws.ID != app.DefaultWorkspace || ws.Role != "owner" {
		t.Fatalf("bootstrap token: %+v", ws)
	}
	if st, body := e.DoAs(apptest.Token, "POST", "/connections", map[string]any{"provider": "hubspot"}, nil); st != http.StatusCreated {
		t.Fatalf("owner may connect: %d %s", st, body)
	}
}
