package vault

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func key(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealOpen(t *testing.T) {
	t.Parallel()
	k1, k2 := key(t), key(t)
	old, err := New(k1)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := old.Seal([]byte("secret-token"), []byte("conn-1"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(ct, []byte("secret-token")) {
		t.Fatal("plaintext visible in ciphertext")
	}
	rotated, err := New(k2, k1)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		v    *Vault
		ct   []byte
		aad  string
		ok   bool
	}{
		{"same key", old, ct, "conn-1", true},
		{"after rotation old key still opens", rotated, ct, "conn-1", true},
		{"other owner", old, ct, "conn-2", false},
		{"truncated", old, ct[:10], "conn-1", false},
		{"empty", old, nil, "conn-1", false},
		{"tampered", old, append(append([]byte{}, ct[:len(ct)-1]...), ct[len(ct)-1]^1), "conn-1", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.v.Open(tc.ct, []byte(tc.aad))
			if tc.ok != (err == nil) {
				t.Fatalf("Open err = %v, want ok=%v", err, tc.ok)
			}
			if tc.ok && string(got) != "secret-token" {
				t.Fatalf("got %q", got)
			}
			if !tc.ok && !errors.Is(err, ErrDecrypt) {
				t.Fatalf("error %v is not ErrDecrypt", err)
			}
		})
	}
	onlyNew, _ := New(k2)
	if _, err := onlyNew.Open(ct, []byte("conn-1")); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("unknown key id must fail, got %v", err)
	}
	ct2, _ := rotated.Seal([]byte("x"), nil)
	if id, _ := KeyIDOf(ct2); id != KeyID(k2) {
		t.Fatalf("new ciphertexts must use the current key, got %s", id)
	}
}

func TestKeys(t *testing.T) {
	t.Parallel()
	if _, err := New(make([]byte, 16)); err == nil {
		t.Fatal("short key accepted")
	}
	for _, s := range []string{"", "not base64!!", "c2hvcnQ="} {
		if _, err := ParseKey(s); err == nil {
			t.Fatalf("ParseKey(%q) accepted", s)
		}
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "sub", "master.key")
	k1, err := LoadOrCreateKeyFile(p)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(p)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %o", st.Mode().Perm())
	}
	k2, err := LoadOrCreateKeyFile(p)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("reload: %v", err)
	}
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKeyFile(p); err == nil {
		t.Fatal("world-readable key accepted")
	}
}
