package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// User is a person who can belong to workspaces.
type User struct {
	ID        string
	Email     string
	Name      string
	CreatedAt time.Time
}

// Member is a user's membership of a workspace, with the role they hold there.
type Member struct {
	WorkspaceID string
	User        User
	Role        string
	CreatedAt   time.Time
}

// CreateWorkspace makes a new workspace with a fresh id.
func (s *Store) CreateWorkspace(ctx context.Context, name, plan string) (*Workspace, error) {
	id := NewID("ws")
	if _, err := s.exec(ctx, s.write, `INSERT INTO workspaces (id, name, plan, created_at) VALUES (?,?,?,?)`, id, name, plan, time.Now().UTC()); err != nil {
		return nil, fmt.Errorf("create workspace: %w", err)
	}
	return s.GetWorkspace(ctx, id)
}

// EnsureUser returns the user with that e-mail address, creating it when missing.
func (s *Store) EnsureUser(ctx context.Context, email, name string) (*User, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	_, err := s.exec(ctx, s.write, `INSERT INTO users (id, email, name, created_at) VALUES (?,?,?,?) ON CONFLICT (email) DO NOTHING`,
		NewID("usr"), email, name, time.Now().UTC())
	if err != nil {
		return nil, fmt.Errorf("ensure user %s: %w", email, err)
	}
	var u User
	err = s.queryRow(ctx, s.write, `SELECT id, email, name, created_at FROM users WHERE email=?`, email).Scan(&u.ID, &u.Email, &u.Name, &u.CreatedAt)
	if err != nil {
		return nil, notFound(err, "user "+email)
	}
	return &u, nil
}

// AddMember gives a user a role in a workspace; ErrConflict when already a member.
func (s *Store) AddMember(ctx context.Context, workspaceID, userID, role string) error {
	res, err := s.exec(ctx, s.write, `INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES (?,?,?,?)
		ON CONFLICT (workspace_id, user_id) DO NOTHING`, workspaceID, userID, role, time.Now().UTC())
	if err != nil {
		return fmt.Errorf("add member: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("user %s is already a member: %w", userID, ErrConflict)
	}
	return nil
}

const memberColumns = `m.workspace_id, u.id, u.email, u.name, u.created_at, m.role, m.created_at`

func scanMember(sc interface{ Scan(...any) error }) (*Member, error) {
	var m Member
	if err := sc.Scan(&m.WorkspaceID, &m.User.ID, &m.User.Email, &m.User.Name, &m.User.CreatedAt, &m.Role, &m.CreatedAt); err != nil {
		return nil, err
	}
	return &m, nil
}

// GetMember returns a workspace's member; ErrNotFound for non-members.
func (s *Store) GetMember(ctx context.Context, workspaceID, userID string) (*Member, error) {
	return s.getMember(ctx, s.read, workspaceID, userID)
}

// GetMember reads a membership inside the transaction.
func (t *Tx) GetMember(ctx context.Context, workspaceID, userID string) (*Member, error) {
	return t.s.getMember(ctx, t.tx, workspaceID, userID)
}

func (s *Store) getMember(ctx context.Context, q querier, workspaceID, userID string) (*Member, error) {
	m, err := scanMember(s.queryRow(ctx, q, `SELECT `+memberColumns+` FROM memberships m JOIN users u ON u.id = m.user_id
		WHERE m.workspace_id=? AND m.user_id=?`, workspaceID, userID))
	if err != nil {
		return nil, notFound(err, "member "+userID)
	}
	return m, nil
}

// ListMembers returns a workspace's members, oldest first.
func (s *Store) ListMembers(ctx context.Context, workspaceID string) ([]*Member, error) {
	rows, err := s.query(ctx, s.read, `SELECT `+memberColumns+` FROM memberships m JOIN users u ON u.id = m.user_id
		WHERE m.workspace_id=? ORDER BY m.created_at, u.id`, workspaceID)
	if err != nil {
		return nil, fmt.Errorf("list members: %w", err)
	}
	defer rows.Close()
	var out []*Member
	for rows.Next() {
		m, err := scanMember(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// CountOwners counts a workspace's owners (a workspace keeps at least one).
func (t *Tx) CountOwners(ctx context.Context, workspaceID string) (int, error) {
	var n int
	err := t.s.queryRow(ctx, t.tx, `SELECT COUNT(*) FROM memberships WHERE workspace_id=? AND role='owner'`, workspaceID).Scan(&n)
	return n, err
}

// SetMemberRole changes a member's role.
func (t *Tx) SetMemberRole(ctx context.Context, workspaceID, userID, role string) error {
	res, err := t.s.exec(ctx, t.tx, `UPDATE memberships SET role=? WHERE workspace_id=? AND user_id=?`, role, workspaceID, userID)
	if err != nil {
		return fmt.Errorf("set role of %s: %w", userID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("member %s: %w", userID, ErrNotFound)
	}
	return nil
}

// RemoveMember ends a membership and revokes the member's tokens in that workspace.
func (t *Tx) RemoveMember(ctx context.Context, workspaceID, userID string, at time.Time) error {
	res, err := t.s.exec(ctx, t.tx, `DELETE FROM memberships WHERE workspace_id=? AND user_id=?`, workspaceID, userID)
	if err != nil {
		return fmt.Errorf("remove member %s: %w", userID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("member %s: %w", userID, ErrNotFound)
	}
	if _, err := t.s.exec(ctx, t.tx, `UPDATE api_tokens SET revoked_at=? WHERE workspace_id=? AND user_id=? AND revoked_at IS NULL`,
		at.UTC(), workspaceID, userID); err != nil {
		return fmt.Errorf("revoke tokens of %s: %w", userID, err)
	}
	return nil
}

// CreateToken stores a new token under the hash of its value; ID and
// CreatedAt are set when empty.
func (s *Store) CreateToken(ctx context.Context, t *Token, hash string) error {
	if t.ID == "" {
		t.ID = NewID("tok")
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = time.Now().UTC()
	}
	_, err := s.exec(ctx, s.write, `INSERT INTO api_tokens (id, workspace_id, user_id, name, token_hash, role, created_by, created_at, expires_at)
		VALUES (?,?,?,?,?,?,?,?,?)`, t.ID, t.WorkspaceID, t.UserID, t.Name, hash, t.Role, t.CreatedBy, t.CreatedAt.UTC(), nullTime(t.ExpiresAt))
	if err != nil {
		return fmt.Errorf("create token: %w", err)
	}
	return nil
}

const tokenColumns = `t.id, t.workspace_id, t.user_id, t.name, t.role, t.created_by, t.created_at, t.expires_at, t.revoked_at, COALESCE(m.role, '')`

// tokenFrom joins the membership so that a token's owner's role comes with it.
const tokenFrom = ` FROM api_tokens t LEFT JOIN memberships m ON m.workspace_id = t.workspace_id AND m.user_id = t.user_id AND t.user_id <> ''`

func scanToken(sc interface{ Scan(...any) error }) (*Token, error) {
	var t Token
	var exp, rev sql.NullTime
	if err := sc.Scan(&t.ID, &t.WorkspaceID, &t.UserID, &t.Name, &t.Role, &t.CreatedBy, &t.CreatedAt, &exp, &rev, &t.MemberRole); err != nil {
		return nil, err
	}
	t.ExpiresAt, t.RevokedAt, t.CreatedAt = timeOf(exp), timeOf(rev), t.CreatedAt.UTC()
	return &t, nil
}

// GetToken returns a workspace's token by id.
func (s *Store) GetToken(ctx context.Context, workspaceID, id string) (*Token, error) {
	t, err := scanToken(s.queryRow(ctx, s.read, `SELECT `+tokenColumns+tokenFrom+` WHERE t.id=? AND t.workspace_id=?`, id, workspaceID))
	if err != nil {
		return nil, notFound(err, "token "+id)
	}
	return t, nil
}

// ListTokens returns a workspace's tokens, newest first; userID filters when set.
func (s *Store) ListTokens(ctx context.Context, workspaceID, userID string) ([]*Token, error) {
	q := `SELECT ` + tokenColumns + tokenFrom + ` WHERE t.workspace_id=?`
	args := []any{workspaceID}
	if userID != "" {
		q += ` AND t.user_id=?`
		args = append(args, userID)
	}
	rows, err := s.query(ctx, s.read, q+` ORDER BY t.id DESC`, args...)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	var out []*Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeToken revokes a workspace's token; revoking twice keeps the first time.
func (s *Store) RevokeToken(ctx context.Context, workspaceID, id string, at time.Time) error {
	res, err := s.exec(ctx, s.write, `UPDATE api_tokens SET revoked_at=COALESCE(revoked_at, ?) WHERE id=? AND workspace_id=?`, at.UTC(), id, workspaceID)
	if err != nil {
		return fmt.Errorf("revoke token %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("token %s: %w", id, ErrNotFound)
	}
	return nil
}
