package catalog

import (
	"testing"
)

// FuzzParse: any bytes either parse into a catalog whose every entry passed
// validation and is found by its id, or give an error; never a panic.
func FuzzParse(f *testing.F) {
	f.Add(providersJSON)
	f.Add([]byte(`{"providers":[]}`))
	f.Add([]byte(`{"providers":[{"id":"x","name":"X","auth":"oauth2","tier":"standard","urls":{"authorize":"::"}}]}`))
	f.Add([]byte(`{"providers":[{"id":"y","auth":"api_key","rate_limit":{"requests":-1,"period":"1h"}}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			return
		}
		for _, p := range c.All() {
			if got, ok := c.Get(p.ID); !ok || got != p {
				t.Fatalf("provider %q is listed but not found by id", p.ID)
			}
			if err := validate(p); err != nil {
				t.Fatalf("provider %q was accepted but does not validate: %v", p.ID, err)
			}
			_ = p.DefaultScopes()
			_ = p.RateLimit.PeriodDuration()
			_ = p.ValidateConfig(map[string]string{"endpoint_url": "http://x", "portal_id": "1"})
			_ = p.Rebase("http://127.0.0.1:1")
		}
	})
}
