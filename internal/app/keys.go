package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"patchbay/internal/config"
	"patchbay/internal/keyrotation"
	"patchbay/internal/store"
	"patchbay/internal/vault"
)

// LoadVault builds the vault from the master key (PATCHBAY_MASTER_KEY or the
// data folder's key file) and the previous keys still accepted while a
// rotation runs (PATCHBAY_PREVIOUS_MASTER_KEYS).
func LoadVault(cfg *config.Config) (*vault.Vault, error) {
	key, err := masterKey(cfg)
	if err != nil {
		return nil, err
	}
	var older [][]byte
	for i, s := range strings.Split(cfg.PreviousMasterKeys, ",") {
		if strings.TrimSpace(s) == "" {
			continue
		}
		k, err := vault.ParseKey(s)
		if err != nil {
			return nil, fmt.Errorf("PATCHBAY_PREVIOUS_MASTER_KEYS key %d: %w", i+1, err)
		}
		older = append(older, k)
	}
	return vault.New(key, older...)
}

// RotateKey re-encrypts every credential with the current master key; see
// package keyrotation. It refuses to run without PATCHBAY_MASTER_KEY, since
// a generated key file cannot be handed to running servers beforehand.
func RotateKey(ctx context.Context, cfg *config.Config) (keyrotation.Report, error) {
	if cfg.MasterKey == "" {
		return keyrotation.Report{}, errors.New("rotate-key needs the new key in PATCHBAY_MASTER_KEY and the old ones in PATCHBAY_PREVIOUS_MASTER_KEYS " +
			"(the old one is in <data>/master.key when it was generated); restart the servers with both, then run rotate-key, then drop the old keys")
	}
	v, err := LoadVault(cfg)
	if err != nil {
		return keyrotation.Report{}, err
	}
	st, err := store.Open(ctx, cfg.DSN())
	if err != nil {
		return keyrotation.Report{}, err
	}
	defer st.Close()
	rep, err := keyrotation.Rotate(ctx, st, v, time.Now())
	if err != nil {
		return rep, err
	}
	if err := st.SetInstallationValue(ctx, masterKeyName, v.CurrentKeyID()); err != nil {
		return rep, err
	}
	// Old ciphertexts must not linger in SQLite's write-ahead log.
	return rep, st.Checkpoint(ctx)
}
