// Package vault encrypts credentials at rest with AES-256-GCM. Every
// ciphertext names the key that sealed it, so keys can be rotated: old keys
// still open old ciphertexts, new ones are sealed with the current key.
package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the length of a master key in bytes (AES-256).
const KeySize = 32

const version byte = 1

// ErrDecrypt is returned when a ciphertext cannot be opened: wrong key,
// unknown key id, tampering or truncation.
var ErrDecrypt = errors.New("vault: cannot decrypt credential")

// Vault seals and opens secrets.
type Vault struct {
	current string
	aeads   map[string]cipher.AEAD
}

// New returns a vault that seals with current and can also open ciphertexts
// made with any of older.
func New(current []byte, older ...[]byte) (*Vault, error) {
	v := &Vault{aeads: map[string]cipher.AEAD{}}
	for i, k := range append([][]byte{current}, older...) {
		if len(k) != KeySize {
			return nil, fmt.Errorf("vault: key %d is %d bytes, want %d", i, len(k), KeySize)
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("vault: key %d: %w", i, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("vault: key %d: %w", i, err)
		}
		id := KeyID(k)
		if i == 0 {
			v.current = id
		}
		v.aeads[id] = aead
	}
	return v, nil
}

// KeyID is a short, non-secret name for a key: the first 8 hex digits of its SHA-256.
func KeyID(key []byte) string {
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:4])
}

// CurrentKeyID names the key new ciphertexts are sealed with.
func (v *Vault) CurrentKeyID() string { return v.current }

// Seal encrypts plaintext. aad binds the ciphertext to its owner (a
// connection id) so that it cannot be moved to another row.
// Layout: version(1) | len(keyid)(1) | keyid | nonce(12) | sealed.
func (v *Vault) Seal(plaintext, aad []byte) ([]byte, error) {
	aead := v.aeads[v.current]
	out := make([]byte, 0, 2+len(v.current)+aead.NonceSize()+len(plaintext)+aead.Overhead())
	out = append(out, version, byte(len(v.current)))
	out = append(out, v.current...)
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("vault: nonce: %w", err)
	}
	out = append(out, nonce...)
	return aead.Seal(out, nonce, plaintext, aad), nil
}

// KeyIDOf returns the key id a ciphertext was sealed with.
func KeyIDOf(ciphertext []byte) (string, error) {
	if len(ciphertext) < 2 || ciphertext[0] != version || len(ciphertext) < 2+int(ciphertext[1]) {
		return "", ErrDecrypt
	}
	return string(ciphertext[2 : 2+int(ciphertext[1])]), nil
}

// Open decrypts a ciphertext made by Seal with the same aad.
func (v *Vault) Open(ciphertext, aad []byte) ([]byte, error) {
	id, err := KeyIDOf(ciphertext)
	if err != nil {
		return nil, err
	}
	aead, ok := v.aeads[id]
	if !ok {
		return nil, fmt.Errorf("%w: sealed with key %s, which is not loaded", ErrDecrypt, id)
	}
	rest := ciphertext[2+len(id):]
	if len(rest) < aead.NonceSize()+aead.Overhead() {
		return nil, ErrDecrypt
	}
	plain, err := aead.Open(nil, rest[:aead.NonceSize()], rest[aead.NonceSize():], aad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return plain, nil
}

// ParseKey decodes a base64 (standard or URL, padded or not) 32-byte key.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil {
			if len(k) != KeySize {
				return nil, fmt.Errorf("master key decodes to %d bytes, want %d (generate one with: head -c 32 /dev/urandom | base64)", len(k), KeySize)
			}
			return k, nil
		}
	}
	return nil, errors.New("master key is not valid base64 (generate one with: head -c 32 /dev/urandom | base64)")
}

// LoadOrCreateKeyFile reads the key in path, or creates one with mode 0600
// when the file does not exist. A key file readable by others is refused.
func LoadOrCreateKeyFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		k := make([]byte, KeySize)
		if _, err := rand.Read(k); err != nil {
			return nil, fmt.Errorf("generate master key: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("create key folder: %w", err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("create master key file: %w", err)
		}
		if _, err := f.WriteString(base64.StdEncoding.EncodeToString(k) + "\n"); err != nil {
			f.Close()
			return nil, fmt.Errorf("write master key file: %w", err)
		}
		if err := f.Close(); err != nil {
			return nil, fmt.Errorf("write master key file: %w", err)
		}
		return k, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read master key file: %w", err)
	}
	if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("master key file %s has mode %o; run chmod 600 %s", path, st.Mode().Perm(), path)
	}
	k, err := ParseKey(string(data))
	if err != nil {
		return nil, fmt.Errorf("master key file %s: %w", path, err)
	}
	return k, nil
}
