package app_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"patchbay/internal/app"
	"patchbay/internal/app/apptest"
	"patchbay/internal/keyrotation"
	"patchbay/internal/store"
	"patchbay/internal/vault"
)

func newKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, vault.KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

// reseal rewrites a credential with another vault, as if it had been written
// before the key changed.
func reseal(t *testing.T, st *store.Store, from, to *vault.Vault, id string) {
	t.Helper()
	ctx := context.Background()
	err := st.InTx(ctx, func(tx *store.Tx) error {
		cr, err := tx.Credential(ctx, id)
		if err != nil {
			return err
		}
		plain, err := from.Open(cr.Ciphertext, []byte(id))
		if err != nil {
			return err
		}
		ct, err := to.Seal(plain, []byte(id))
		if err != nil {
			return err
		}
		_, err = tx.SwapCredential(ctx, id, cr.Ciphertext, store.Credential{KeyID: to.CurrentKeyID(), Ciphertext: ct})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestRotateKeyWhileServing: a server runs with the new key and the old one;
// credentials sealed with the old key keep working; the rotation re-encrypts
// every one of them (each in its own transaction) while API calls and token
// refreshes go on; afterwards the new key alone opens everything.
func TestRotateKeyWhileServing(t *testing.T) {
	t.Parallel()
	oldKey, newKeyB := newKey(t), newKey(t)
	enc := base64.StdEncoding.EncodeToString
	e := apptest.Start(t, apptest.Options{Env: map[string]string{"PATCHBAY_MASTER_KEY": enc(newKeyB), "PATCHBAY_PREVIOUS_MASTER_KEYS": enc(oldKey)}})
	ctx := context.Background()
	oldVault, _ := vault.New(oldKey)
	both := e.App.Vault

	var ids []string
	for _, acct := range []string{"rot-1", "rot-2", "rot-3"} {
		ids = append(ids, e.ConnectOAuth("hubspot", acct, nil))
	}
	var dp struct {
		Connection apptest.Connection `json:"connection"`
	}
	e.MustDo(201, "POST", "/connections", map[string]any{"provider": "dataprovider", "api_key": app.DemoDataProviderKey,
		"config": map[string]string{"endpoint_url": e.URL + "/_fakes/dataprovider"}}, &dp)
	ids = append(ids, dp.Connection.ID)
	for _, id := range ids {
		reseal(t, e.Store(), both, oldVault, id)
	}
	// An authorization in progress, its verifier sealed with the old key too.
	var pending struct {
		AuthorizeURL string `json:"authorize_url"`
	}
	e.MustDo(201, "POST", "/connections", map[string]any{"provider": "hubspot"}, &pending)
	states, err := e.Store().PendingStates(ctx, time.Now())
	if err != nil || len(states) != 1 {
		t.Fatalf("pending states: %d %v", len(states), err)
	}
	plain, err := both.Open(states[0].Verifier, []byte(states[0].ConnectionID))
	if err != nil {
		t.Fatal(err)
	}
	sealed, _ := oldVault.Seal(plain, []byte(states[0].ConnectionID))
	if err := e.Store().InTx(ctx, func(tx *store.Tx) error {
		_, err := tx.SwapStateVerifier(ctx, states[0].Hash, states[0].Verifier, sealed)
		return err
	}); err != nil {
		t.Fatal(err)
	}

	// The server reads old-key credentials.
	for _, id := range ids {
		if c := e.Connection(id); c.Status != "connected" {
			t.Fatalf("%s: %s", id, c.Status)
		}
		e.MustDo(200, "POST", "/connections/"+id+"/test", nil, nil)
	}

	// Rotate while refreshes rewrite credentials.
	e.Control("hubspot", "expire", map[string]string{"account": "rot-1"})
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 10 {
		wg.Go(func() {
			if st, body := e.Do("POST", "/connections/"+ids[0]+"/test", nil, nil); st != http.StatusOK {
				errs <- &rotErr{st, body}
			}
		})
	}
	rep, err := keyrotation.Rotate(ctx, e.Store(), both, time.Now())
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("API call during rotation: %v", err)
	}
	if err != nil {
		t.Fatalf("rotate: %v\n%s", err, rep)
	}
	if rep.Rewritten+rep.AlreadyCurrent != len(ids) || rep.Rewritten == 0 || rep.States != 1 || len(rep.Failed) != 0 {
		t.Fatalf("report: %s", rep)
	}
	t.Log(rep)

	// The new key alone now opens every credential; a second run has nothing to do.
	onlyNew, _ := vault.New(newKeyB)
	for _, id := range ids {
		cr, err := e.Store().Credential(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := onlyNew.Open(cr.Ciphertext, []byte(id)); err != nil || cr.KeyID != onlyNew.CurrentKeyID() {
			t.Fatalf("%s after rotation: key %s, %v", id, cr.KeyID, err)
		}
	}
	again, err := keyrotation.Rotate(ctx, e.Store(), both, time.Now())
	if err != nil || again.Rewritten != 0 || again.AlreadyCurrent != len(ids) {
		t.Fatalf("second rotation: %s %v", again, err)
	}
	// The authorization started before the rotation still completes.
	if st, body := e.Consent(pending.AuthorizeURL, url.Values{"account": {"rot-4"}}); st != http.StatusSeeOther {
		t.Fatalf("pending authorization after rotation: %d %s", st, body)
	}
	// A credential sealed with a key nobody holds is reported, not skipped silently.
	stranger, _ := vault.New(newKey(t))
	reseal(t, e.Store(), both, stranger, ids[1])
	if rep, err := keyrotation.Rotate(ctx, e.Store(), both, time.Now()); err == nil || len(rep.Failed) != 1 {
		t.Fatalf("unknown key: %s %v", rep, err)
	}
}

type rotErr struct {
	status int
	body   string
}

func (e *rotErr) Error() string { return e.body }
