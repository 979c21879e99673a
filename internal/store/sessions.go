package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Session is a dashboard login. The cookie holds a random id; only its hash
// is stored, so a copy of the database cannot be used to log in. A session
// acts with the rights of the API token it was opened with and dies with it.
type Session struct {
	IDHash      string
	WorkspaceID string
	TokenID     string
	CSRFToken   string // synchronizer token every form POST of the session must carry
	CreatedAt   time.Time
	ExpiresAt   time.Time
}

// CreateSession stores a new session.
func (s *Store) CreateSession(ctx context.Context, se *Session) error {
	if se.CreatedAt.IsZero() {
		se.CreatedAt = time.Now().UTC()
	}
	_, err := s.exec(ctx, s.write, `INSERT INTO web_sessions (id_hash, workspace_id, token_id, csrf_token, created_at, expires_at) VALUES (?,?,?,?,?,?)`,
		se.IDHash, se.WorkspaceID, se.TokenID, se.CSRFToken, se.CreatedAt.UTC(), se.ExpiresAt.UTC())
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// SessionByHash returns a live session (not expired at now) with its token.
func (s *Store) SessionByHash(ctx context.Context, hash string, now time.Time) (*Session, *Token, error) {
	var se Session
	var t Token
	var exp, rev sql.NullTime
	err := s.queryRow(ctx, s.read, `SELECT s.id_hash, s.workspace_id, s.token_id, s.csrf_token, s.created_at, s.expires_at,
		t.id, t.workspace_id, t.name, t.role, t.created_at, t.expires_at, t.revoked_at
		FROM web_sessions s JOIN api_tokens t ON t.id = s.token_id WHERE s.id_hash=? AND s.expires_at > ?`, hash, now.UTC()).
		Scan(&se.IDHash, &se.WorkspaceID, &se.TokenID, &se.CSRFToken, &se.CreatedAt, &se.ExpiresAt,
			&t.ID, &t.WorkspaceID, &t.Name, &t.Role, &t.CreatedAt, &exp, &rev)
	if err != nil {
		return nil, nil, notFound(err, "session")
	}
	t.ExpiresAt, t.RevokedAt = timeOf(exp), timeOf(rev)
	se.CreatedAt, se.ExpiresAt = se.CreatedAt.UTC(), se.ExpiresAt.UTC()
	return &se, &t, nil
}

// DeleteSession ends a session (logout). Deleting an unknown session is not an error.
func (s *Store) DeleteSession(ctx context.Context, hash string) error {
	if _, err := s.exec(ctx, s.write, `DELETE FROM web_sessions WHERE id_hash=?`, hash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteExpiredSessions removes sessions and login links that expired before now.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.exec(ctx, s.write, `DELETE FROM web_sessions WHERE expires_at <= ?`, now.UTC())
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	n, _ := res.RowsAffected()
	if _, err := s.exec(ctx, s.write, `DELETE FROM web_login_links WHERE expires_at <= ?`, now.UTC()); err != nil {
		return n, fmt.Errorf("delete expired login links: %w", err)
	}
	return n, nil
}

// LoginLink is a one-time login code; only its hash is stored.
type LoginLink struct {
	CodeHash    string
	WorkspaceID string
	TokenID     string
	CreatedAt   time.Time
	ExpiresAt   time.Time
}

// CreateLoginLink stores a one-time login code.
func (s *Store) CreateLoginLink(ctx context.Context, l *LoginLink) error {
	if l.CreatedAt.IsZero() {
		l.CreatedAt = time.Now().UTC()
	}
	_, err := s.exec(ctx, s.write, `INSERT INTO web_login_links (code_hash, workspace_id, token_id, created_at, expires_at) VALUES (?,?,?,?,?)`,
		l.CodeHash, l.WorkspaceID, l.TokenID, l.CreatedAt.UTC(), l.ExpiresAt.UTC())
	if err != nil {
		return fmt.Errorf("create login link: %w", err)
	}
	return nil
}

// Errors of TakeLoginLink.
var (
	ErrLoginLinkUsed    = fmt.Errorf("login link already used: %w", ErrConflict)
	ErrLoginLinkExpired = fmt.Errorf("login link expired: %w", ErrConflict)
)

// TakeLoginLink marks a login link used and returns it; a link works once, before it expires.
func (s *Store) TakeLoginLink(ctx context.Context, hash string, now time.Time) (*LoginLink, error) {
	var l LoginLink
	err := s.InTx(ctx, func(tx *Tx) error {
		var used sql.NullTime
		err := s.queryRow(ctx, tx.tx, `SELECT code_hash, workspace_id, token_id, created_at, expires_at, used_at FROM web_login_links WHERE code_hash=?`, hash).
			Scan(&l.CodeHash, &l.WorkspaceID, &l.TokenID, &l.CreatedAt, &l.ExpiresAt, &used)
		if err != nil {
			return notFound(err, "login link")
		}
		if used.Valid {
			return ErrLoginLinkUsed
		}
		if !now.Before(l.ExpiresAt) {
			return ErrLoginLinkExpired
		}
		// The used_at IS NULL guard makes two concurrent takers race safely on PostgreSQL.
		res, err := s.exec(ctx, tx.tx, `UPDATE web_login_links SET used_at=? WHERE code_hash=? AND used_at IS NULL`, now.UTC(), hash)
		if err != nil {
			return fmt.Errorf("use login link: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrLoginLinkUsed
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &l, nil
}
