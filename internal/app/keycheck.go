package app

import (
	"context"
	"fmt"

	"patchbay/internal/store"
	"patchbay/internal/vault"
)

// masterKeyName is where the installation records the id of its master key.
const masterKeyName = "master_key_id"

// checkMasterKey makes every process of an installation use one master key:
// the first process to start records its key's id in the database, and a
// process whose keys do not include the recorded one refuses to start
// (credentials it wrote could not be read by the others, nor theirs by it).
// During a rotation the recorded key is among the previous keys; rotate-key
// records the new one when it is done.
func checkMasterKey(ctx context.Context, st *store.Store, v *vault.Vault) error {
	id, err := st.ClaimInstallationValue(ctx, masterKeyName, v.CurrentKeyID())
	if err != nil {
		return err
	}
	if !v.Knows(id) {
		return fmt.Errorf("this database's credentials are sealed with master key %s, and this process has key %s: "+
			"start every process with the same PATCHBAY_MASTER_KEY (during a rotation, the old key in PATCHBAY_PREVIOUS_MASTER_KEYS)", id, v.CurrentKeyID())
	}
	return nil
}
