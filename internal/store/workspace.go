package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// Workspace is a team's space: its connections, tables and members.
type Workspace struct {
	ID        string
	Name      string
	Plan      string
	CreatedAt time.Time
}

// EnsureWorkspace creates the workspace when missing and returns it.
func (s *Store) EnsureWorkspace(ctx context.Context, id, name, plan string) (*Workspace, error) {
	_, err := s.exec(ctx, s.write, `INSERT INTO workspaces (id, name, plan, created_at) VALUES (?,?,?,?) ON CONFLICT (id) DO NOTHING`,
		id, name, plan, time.Now().UTC())
	if err != nil {
		return nil, fmt.Errorf("ensure workspace %s: %w", id, err)
	}
	return s.GetWorkspace(ctx, id)
}

// GetWorkspace returns a workspace.
func (s *Store) GetWorkspace(ctx context.Context, id string) (*Workspace, error) {
	var w Workspace
	err := s.queryRow(ctx, s.read, `SELECT id, name, plan, created_at FROM workspaces WHERE id=?`, id).Scan(&w.ID, &w.Name, &w.Plan, &w.CreatedAt)
	if err != nil {
		return nil, notFound(err, "workspace "+id)
	}
	return &w, nil
}

// SetPlan changes a workspace's plan.
func (s *Store) SetPlan(ctx context.Context, id, plan string) error {
	_, err := s.exec(ctx, s.write, `UPDATE workspaces SET plan=? WHERE id=?`, plan, id)
	return err
}

// SetPlan changes a workspace's plan inside a transaction.
func (t *Tx) SetPlan(ctx context.Context, id, plan string) error {
	res, err := t.s.exec(ctx, t.tx, `UPDATE workspaces SET plan=? WHERE id=?`, plan, id)
	if err != nil {
		return fmt.Errorf("set plan of %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("workspace %s: %w", id, ErrNotFound)
	}
	return nil
}

// Token is an API token; only its hash is stored.
type Token struct {
	ID          string
	WorkspaceID string
	Name        string
	Role        string
	CreatedAt   time.Time
	ExpiresAt   time.Time
	RevokedAt   time.Time
	UserID      string // the member it belongs to; "" for a workspace token
	CreatedBy   string // who made it (token or user id)
	MemberRole  string // the owner's current role in the workspace ("" when not a member)
}

// EnsureToken stores a token hash unless it is already known.
func (s *Store) EnsureToken(ctx context.Context, workspaceID, name, role, hash string) error {
	_, err := s.exec(ctx, s.write, `INSERT INTO api_tokens (id, workspace_id, name, token_hash, role, created_at) VALUES (?,?,?,?,?,?)
		ON CONFLICT (token_hash) DO NOTHING`, NewID("tok"), workspaceID, name, hash, role, time.Now().UTC())
	if err != nil {
		return fmt.Errorf("store token: %w", err)
	}
	return nil
}

// TokenByHash finds a live token by the hash of its value.
func (s *Store) TokenByHash(ctx context.Context, hash string) (*Token, error) {
	t, err := scanToken(s.queryRow(ctx, s.read, `SELECT `+tokenColumns+tokenFrom+` WHERE t.token_hash=?`, hash))
	if err != nil {
		return nil, notFound(err, "token")
	}
	return t, nil
}

// TokenByID finds a token by its id (a dashboard session names its token).
func (s *Store) TokenByID(ctx context.Context, id string) (*Token, error) {
	t, err := scanToken(s.queryRow(ctx, s.read, `SELECT `+tokenColumns+tokenFrom+` WHERE t.id=?`, id))
	if err != nil {
		return nil, notFound(err, "token")
	}
	return t, nil
}

// OAuthState is a pending authorization: one per authorize URL handed out.
type OAuthState struct {
	Hash               string // SHA-256 of the state value; the value itself is never stored
	WorkspaceID        string
	ConnectionID       string
	Provider           string
	Purpose            string // connect or reconnect
	Verifier           []byte // PKCE verifier, sealed by the vault
	Scopes             []string
	AllowAccountChange bool
	CreatedBy          string
	ExpiresAt          time.Time
}

// CreateState stores a pending authorization.
func (t *Tx) CreateState(ctx context.Context, st *OAuthState) error {
	_, err := t.s.exec(ctx, t.tx, `INSERT INTO oauth_states (state_hash, workspace_id, connection_id, provider, purpose, verifier, scopes,
		allow_account_change, created_by, expires_at) VALUES (?,?,?,?,?,?,?,?,?,?)`,
		st.Hash, st.WorkspaceID, st.ConnectionID, st.Provider, st.Purpose, st.Verifier, jsonText(emptyIfNil(st.Scopes)),
		st.AllowAccountChange, st.CreatedBy, st.ExpiresAt.UTC())
	if err != nil {
		return fmt.Errorf("store oauth state: %w", err)
	}
	return nil
}

// Errors of TakeState.
var (
	ErrStateUsed    = fmt.Errorf("authorization state already used: %w", ErrConflict)
	ErrStateExpired = fmt.Errorf("authorization state expired: %w", ErrConflict)
)

// TakeState marks a state used and returns it; a state is good once, before it expires.
func (t *Tx) TakeState(ctx context.Context, hash string, now time.Time) (*OAuthState, error) {
	var st OAuthState
	var scopes string
	var used sql.NullTime
	err := t.s.queryRow(ctx, t.tx, `SELECT state_hash, workspace_id, connection_id, provider, purpose, verifier, scopes,
		allow_account_change, created_by, expires_at, used_at FROM oauth_states WHERE state_hash=?`, hash).
		Scan(&st.Hash, &st.WorkspaceID, &st.ConnectionID, &st.Provider, &st.Purpose, &st.Verifier, &scopes,
			&st.AllowAccountChange, &st.CreatedBy, &st.ExpiresAt, &used)
	if err != nil {
		return nil, notFound(err, "authorization state")
	}
	if used.Valid {
		return nil, ErrStateUsed
	}
	if now.After(st.ExpiresAt) {
		return nil, ErrStateExpired
	}
	if _, err := t.s.exec(ctx, t.tx, `UPDATE oauth_states SET used_at=? WHERE state_hash=?`, now.UTC(), hash); err != nil {
		return nil, fmt.Errorf("use oauth state: %w", err)
	}
	if err := json.Unmarshal([]byte(scopes), &st.Scopes); err != nil {
		return nil, fmt.Errorf("oauth state scopes: %w", err)
	}
	return &st, nil
}

// Event is an entry of the audit log.
type Event struct {
	ID           string
	WorkspaceID  string
	ConnectionID string
	Kind         string
	Message      string
	Data         map[string]any
	CreatedAt    time.Time
}

// AddEvent appends to the audit log.
func (t *Tx) AddEvent(ctx context.Context, e *Event) error {
	return t.s.addEvent(ctx, t.tx, e)
}

// AddEvent appends to the audit log outside a transaction.
func (s *Store) AddEvent(ctx context.Context, e *Event) error {
	return s.addEvent(ctx, s.write, e)
}

func (s *Store) addEvent(ctx context.Context, q querier, e *Event) error {
	if e.ID == "" {
		e.ID = NewID("evt")
	}
	if e.CreatedAt.IsZero() {
		e.CreatedAt = time.Now().UTC()
	}
	if e.Data == nil {
		e.Data = map[string]any{}
	}
	_, err := s.exec(ctx, q, `INSERT INTO events (id, workspace_id, connection_id, kind, message, data, created_at) VALUES (?,?,?,?,?,?,?)`,
		e.ID, e.WorkspaceID, e.ConnectionID, e.Kind, e.Message, jsonText(e.Data), e.CreatedAt.UTC())
	if err != nil {
		return fmt.Errorf("add event %s: %w", e.Kind, err)
	}
	return nil
}

// ListEvents returns a workspace's newest events first; connectionID filters when set.
func (s *Store) ListEvents(ctx context.Context, workspaceID, connectionID string, limit int) ([]*Event, error) {
	q := `SELECT id, workspace_id, connection_id, kind, message, data, created_at FROM events WHERE workspace_id=?`
	args := []any{workspaceID}
	if connectionID != "" {
		q += ` AND connection_id=?`
		args = append(args, connectionID)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.query(ctx, s.read, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	defer rows.Close()
	var out []*Event
	for rows.Next() {
		var e Event
		var data string
		if err := rows.Scan(&e.ID, &e.WorkspaceID, &e.ConnectionID, &e.Kind, &e.Message, &data, &e.CreatedAt); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(data), &e.Data); err != nil {
			return nil, fmt.Errorf("event %s data: %w", e.ID, err)
		}
		out = append(out, &e)
	}
	return out, rows.Err()
}
