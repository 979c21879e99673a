// Package keyrotation re-encrypts every secret at rest with the vault's
// current key, one row per transaction, while servers keep running: they
// hold the new key and the old ones (PATCHBAY_MASTER_KEY and
// PATCHBAY_PREVIOUS_MASTER_KEYS), so they read both kinds of ciphertext
// during the rotation and write only the new one.
package keyrotation

import (
	"context"
	"errors"
	"fmt"
	"time"

	"patchbay/internal/store"
	"patchbay/internal/vault"
)

// Report counts what a rotation did.
type Report struct {
	KeyID          string   // the key everything is sealed with now
	Rewritten      int      // credentials re-encrypted
	AlreadyCurrent int      // credentials already sealed with the current key
	Gone           int      // credentials deleted (disconnect) while rotating
	States         int      // pending OAuth authorizations re-encrypted
	Failed         []string // connection ids whose credentials could not be opened, with why
}

func (r Report) String() string {
	s := fmt.Sprintf("key %s: %d credentials re-encrypted, %d already on it, %d deleted meanwhile, %d pending authorizations re-encrypted, %d failed",
		r.KeyID, r.Rewritten, r.AlreadyCurrent, r.Gone, r.States, len(r.Failed))
	for _, f := range r.Failed {
		s += "\n  " + f
	}
	return s
}

// Rotate re-encrypts every credential and pending authorization not sealed
// with v's current key. A row that a running server rewrote in the meantime
// is read again (compare and swap), so nothing written concurrently is lost.
// It returns an error when any credential could not be rotated.
func Rotate(ctx context.Context, st *store.Store, v *vault.Vault, now time.Time) (Report, error) {
	rep := Report{KeyID: v.CurrentKeyID()}
	ids, err := st.CredentialIDs(ctx)
	if err != nil {
		return rep, fmt.Errorf("list credentials: %w", err)
	}
	for _, id := range ids {
		outcome, err := rotateCredential(ctx, st, v, id)
		if err != nil {
			rep.Failed = append(rep.Failed, id+": "+err.Error())
			continue
		}
		switch outcome {
		case rewritten:
			rep.Rewritten++
		case current:
			rep.AlreadyCurrent++
		case gone:
			rep.Gone++
		}
	}
	states, err := st.PendingStates(ctx, now)
	if err != nil {
		return rep, err
	}
	for _, ps := range states {
		if kid, err := vault.KeyIDOf(ps.Verifier); err == nil && kid == v.CurrentKeyID() {
			continue
		}
		plain, err := v.Open(ps.Verifier, []byte(ps.ConnectionID))
		if err != nil {
			continue // the authorization will fail and the user starts again; nothing else depends on it
		}
		sealed, err := v.Seal(plain, []byte(ps.ConnectionID))
		if err != nil {
			return rep, err
		}
		var ok bool
		if err := st.InTx(ctx, func(tx *store.Tx) error {
			ok, err = tx.SwapStateVerifier(ctx, ps.Hash, ps.Verifier, sealed)
			return err
		}); err != nil {
			return rep, err
		}
		if ok {
			rep.States++
		}
	}
	if len(rep.Failed) > 0 {
		return rep, fmt.Errorf("%d credentials could not be re-encrypted: load the key that sealed them in PATCHBAY_PREVIOUS_MASTER_KEYS and run rotate-key again", len(rep.Failed))
	}
	return rep, nil
}

type outcome int

const (
	rewritten outcome = iota
	current
	gone
)

func rotateCredential(ctx context.Context, st *store.Store, v *vault.Vault, id string) (outcome, error) {
	for range 5 {
		var out outcome
		var swapped bool
		err := st.InTx(ctx, func(tx *store.Tx) error {
			cr, err := tx.Credential(ctx, id)
			if errors.Is(err, store.ErrNotFound) {
				out, swapped = gone, true
				return nil
			}
			if err != nil {
				return err
			}
			if kid, err := vault.KeyIDOf(cr.Ciphertext); err == nil && kid == v.CurrentKeyID() {
				out, swapped = current, true
				return nil
			}
			plain, err := v.Open(cr.Ciphertext, []byte(id))
			if err != nil {
				return err
			}
			sealed, err := v.Seal(plain, []byte(id))
			clear(plain)
			if err != nil {
				return err
			}
			out = rewritten
			swapped, err = tx.SwapCredential(ctx, id, cr.Ciphertext, store.Credential{KeyID: v.CurrentKeyID(), Ciphertext: sealed})
			return err
		})
		if err != nil {
			return 0, err
		}
		if swapped {
			return out, nil
		}
	}
	return 0, errors.New("credentials kept changing while rotating; run rotate-key again")
}
