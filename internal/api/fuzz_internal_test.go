package api

import (
	"bytes"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"patchbay/internal/connection"
)

// FuzzDecode: any body decodes into a request struct or gives an invalid-input
// (or too-large) error that maps to a 4xx problem; never a panic.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"provider":"hubspot","config":{"portal_id":"1"},"scopes":["oauth"]}`,
		`{"provider":"dataprovider","api_key":"k","config":{"endpoint_url":"http://x"}}`,
		`{"provider":"hubspot","colour":1}`, `{`, `{}{}`, `[]`, `null`, ``, `{"scopes":"oauth"}`, "\xff\xfe",
		`{"provider":"` + strings.Repeat("a", 100) + `"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var v struct {
			Provider string            `json:"provider"`
			Config   map[string]string `json:"config"`
			Scopes   []string          `json:"scopes"`
			APIKey   string            `json:"api_key"`
			Notes    *string           `json:"notes"`
		}
		err := decode(httptest.NewRequest("POST", "/api/v1/connections", bytes.NewReader(body)), &v)
		if err == nil {
			return
		}
		var ve *connection.ValidationError
		if !errors.As(err, &ve) && !errors.Is(err, ErrBodyTooLarge) && !errors.Is(err, ErrInvalidUTF8) {
			t.Fatalf("decode error of an unexpected kind %T: %v", err, err)
		}
		if p := ProblemFor(err); p.Status < 400 || p.Status >= 500 {
			t.Fatalf("bad input answered %d", p.Status)
		}
	})
}

func TestDecodeRefusesOversizedBodies(t *testing.T) {
	t.Parallel()
	big := `{"provider":"` + strings.Repeat("a", MaxBody) + `"}`
	var v struct {
		Provider string `json:"provider"`
	}
	err := decode(httptest.NewRequest("POST", "/", strings.NewReader(big)), &v)
	if p := ProblemFor(err); p.Status != 413 || !strings.Contains(p.Detail, "1 MiB") {
		t.Fatalf("oversized body: %v → %+v", err, p)
	}
}
