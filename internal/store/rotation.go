package store

import (
	"context"
	"fmt"
	"time"
)

// SwapCredential replaces a connection's ciphertext only if it is still old
// (compare and swap), so that re-encrypting never overwrites credentials a
// refresh wrote in the meantime. It reports whether it swapped.
func (t *Tx) SwapCredential(ctx context.Context, connectionID string, old []byte, c Credential) (bool, error) {
	res, err := t.s.exec(ctx, t.tx, `UPDATE credentials SET key_id=?, ciphertext=? WHERE connection_id=? AND ciphertext=?`,
		c.KeyID, c.Ciphertext, connectionID, old)
	if err != nil {
		return false, fmt.Errorf("swap credentials of %s: %w", connectionID, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// PendingState is the sealed part of an authorization still in progress.
type PendingState struct {
	Hash         string
	ConnectionID string
	Verifier     []byte
}

// PendingStates lists unused, unexpired authorizations (their PKCE verifiers
// are sealed by the vault and need re-encrypting when the key rotates).
func (s *Store) PendingStates(ctx context.Context, now time.Time) ([]PendingState, error) {
	rows, err := s.query(ctx, s.read, `SELECT state_hash, connection_id, verifier FROM oauth_states WHERE used_at IS NULL AND expires_at > ?`, now.UTC())
	if err != nil {
		return nil, fmt.Errorf("pending states: %w", err)
	}
	defer rows.Close()
	var out []PendingState
	for rows.Next() {
		var p PendingState
		if err := rows.Scan(&p.Hash, &p.ConnectionID, &p.Verifier); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// SwapStateVerifier replaces a pending authorization's sealed verifier if it is still old.
func (t *Tx) SwapStateVerifier(ctx context.Context, hash string, old, sealed []byte) (bool, error) {
	res, err := t.s.exec(ctx, t.tx, `UPDATE oauth_states SET verifier=? WHERE state_hash=? AND verifier=?`, sealed, hash, old)
	if err != nil {
		return false, fmt.Errorf("swap state verifier: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}
