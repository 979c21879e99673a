package dataprovider

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"patchbay/internal/connector"
)

type canned struct {
	status int
	body   []byte
}

func (c canned) RoundTrip(r *http.Request) (*http.Response, error) {
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{StatusCode: c.status, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader(c.body)), Request: r}, nil
}

const fuzzKey = "dp_fuzz_secret_key_0123456789"

// FuzzResponses feeds arbitrary answers to the identity probe and lookups: no
// panic, no hang, typed errors, the key never echoed.
func FuzzResponses(f *testing.F) {
	for _, s := range []struct {
		status int
		body   string
	}{
		{200, `{"id":"acct_1","name":"Demo","email":"d@x.io"}`},
		{200, `{"found":true,"data":{"name":"Acme","employees":120}}`},
		{200, `{"found":false}`},
		{401, `{"error":{"code":"invalid_api_key","message":"The API key dp_fuzz_secret_key_0123456789 is not valid"}}`},
		{402, `{"error":{"code":"out_of_credits","message":"no credits"}}`},
		{429, `{"error":{"code":"rate_limited"}}`},
		{503, `upstream down`},
		{200, `{"found":true,"data":null}`},
		{200, `null`},
	} {
		f.Add(s.status, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 100 || status > 599 {
			status = 200 + (status%400+400)%400
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		wd := time.AfterFunc(3*time.Second, func() { panic(fmt.Sprintf("hang: status %d body %q", status, body)) })
		defer wd.Stop()
		s := connector.Session{HTTP: &http.Client{Transport: canned{status, body}}, BaseURL: "http://dp.fuzz",
			Creds: connector.Credentials{APIKey: fuzzKey}}
		c := New()
		check := func(op string, err error) {
			if err == nil {
				return
			}
			var ce *connector.Error
			if !errors.As(err, &ce) {
				t.Fatalf("%s: untyped error %T: %v", op, err, err)
			}
			if strings.Contains(err.Error(), fuzzKey) {
				t.Fatalf("%s: the key is in the error: %v", op, err)
			}
		}
		acct, err := c.Identity(ctx, s)
		check("identity", err)
		if err == nil && acct.ID == "" {
			t.Fatalf("identity without an account id from %q", body)
		}
		data, found, err := c.Lookup(ctx, s, "company_by_domain", map[string]string{"domain": "acme.com"})
		check("lookup", err)
		if err == nil && found && data == nil {
			t.Fatalf("found with nil data from %q", body)
		}
	})
}
