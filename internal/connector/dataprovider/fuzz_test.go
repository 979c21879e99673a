package dataprovider

import (
	"testing"

	"patchbay/internal/connector"
	"patchbay/internal/connector/connectortest"
)

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
		ctx, s, check := connectortest.FuzzCall(t, status, body, "http://dp.fuzz", connector.Credentials{APIKey: fuzzKey}, fuzzKey)
		c := New()
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
