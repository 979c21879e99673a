package apptest

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	"patchbay/internal/catalog"
	"patchbay/internal/connection"
	"patchbay/internal/store"
)

// NewWorkspace creates another workspace with an owner token and returns
// the workspace id and the token value.
func (e *Env) NewWorkspace(name string) (string, string) {
	e.T.Helper()
	ctx := context.Background()
	ws, err := e.Store().CreateWorkspace(ctx, name, catalog.TierPremium)
	if err != nil {
		e.T.Fatal(err)
	}
	return ws.ID, e.NewToken(ws.ID, "", "owner")
}

// NewToken stores an API token for a workspace (userID may be empty) and returns its value.
func (e *Env) NewToken(workspaceID, userID, role string) string {
	e.T.Helper()
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	value := "test-" + hex.EncodeToString(b)
	if err := e.Store().CreateToken(context.Background(), &store.Token{WorkspaceID: workspaceID, UserID: userID, Name: "test " + role, Role: role},
		connection.HashToken(value)); err != nil {
		e.T.Fatal(err)
	}
	return value
}
