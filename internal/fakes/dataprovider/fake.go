// Package dataprovider is a local fake of an enrichment provider that speaks
// Patchbay's generic data-provider protocol (docs/dataprovider.md): API keys
// as bearer tokens, GET /v1/account, POST /v1/lookup, 10 requests per second,
// and the /_control/ surface of shared/API.md, where POST /_control/token
// issues an API key. Its answers are made up but deterministic: the same
// input always gives the same data, and inputs under the reserved .invalid
// domain (or companies named "Unknown…") are never found.
package dataprovider

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"patchbay/internal/fakes/fakekit"
)

// Defaults of the fake.
const (
	DefaultRateLimit = 10   // requests per second per account
	DefaultCredits   = 1000 // found lookups an account may make
)

// Options configure a Fake; the zero value is a working fake.
type Options struct {
	Now            func() time.Time
	DefaultAccount string // default "acct-demo"
	// DemoKey, when set, is an API key of the default account that the fake
	// accepts from the start (for `patchbay demo`).
	DemoKey   string
	RateLimit int // per second; default DefaultRateLimit
	Credits   int // per account; default DefaultCredits
}

// Fake is the data provider fake; it is an http.Handler rooted at "/".
type Fake struct {
	o   Options
	kit *fakekit.Kit
	mux *http.ServeMux

	mu   sync.Mutex
	used map[string]int // credits spent per account
}

// New returns a Fake.
func New(o Options) *Fake {
	if o.RateLimit <= 0 {
		o.RateLimit = DefaultRateLimit
	}
	if o.Credits <= 0 {
		o.Credits = DefaultCredits
	}
	f := &Fake{o: o, mux: http.NewServeMux(), used: map[string]int{}}
	f.kit = fakekit.New(fakekit.Options{
		Name:           "Data provider",
		Now:            o.Now,
		DefaultAccount: o.DefaultAccount,
		APIKeys:        true,
		TokenPrefix:    "dpk_",
		RateLimit:      o.RateLimit,
		RateWindow:     time.Second,
		Errors: fakekit.Errors{
			Unauthorized: func(w http.ResponseWriter, _ *http.Request, _ fakekit.AuthFailure) {
				writeError(w, http.StatusUnauthorized, "invalid_api_key", "The API key is missing, unknown or revoked.")
			},
			RateLimited: func(w http.ResponseWriter, _ *http.Request, _ string) {
				writeError(w, http.StatusTooManyRequests, "rate_limited", "Too many requests; retry after the Retry-After delay.")
			},
			Unavailable: func(w http.ResponseWriter, _ *http.Request) {
				writeError(w, http.StatusServiceUnavailable, "unavailable", "The service is temporarily unavailable.")
			},
		},
	})
	if o.DemoKey != "" {
		f.kit.AddToken(f.kit.DefaultAccount(), o.DemoKey, nil)
	}
	f.kit.Routes(f.mux, fakekit.OAuthPaths{})
	f.mux.HandleFunc("GET /v1/account", f.account)
	f.mux.HandleFunc("POST /v1/lookup", f.lookup)
	return f
}

// ServeHTTP serves the provider's paths rooted at "/".
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) { f.mux.ServeHTTP(w, r) }

// Kit exposes the shared machinery: outage, revoke, rate limits, counters.
func (f *Fake) Kit() *fakekit.Kit { return f.kit }

// Stats returns the fake's counters.
func (f *Fake) Stats() fakekit.Stats { return f.kit.Stats() }

// IssueKey returns a new API key of account.
func (f *Fake) IssueKey(account string) string { return f.kit.IssueToken(account, nil).AccessToken }

func writeError(w http.ResponseWriter, status int, code, message string) {
	fakekit.WriteJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": message}})
}

func (f *Fake) credits(account string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return max(f.o.Credits-f.used[account], 0)
}

func (f *Fake) account(w http.ResponseWriter, r *http.Request) {
	c, ok := f.kit.Guard(w, r)
	if !ok {
		return
	}
	fakekit.WriteJSON(w, http.StatusOK, map[string]any{
		"id":                c.Account,
		"name":              accountName(c.Account),
		"email":             c.Account + "@example.com",
		"credits_remaining": f.credits(c.Account),
	})
}

// accountName makes a display name of an account id: "acct-demo" -> "Acct Demo".
func accountName(id string) string {
	words := strings.FieldsFunc(id, func(r rune) bool { return r == '-' || r == '_' || r == '.' })
	for i, w := range words {
		words[i] = title(w)
	}
	return strings.Join(words, " ")
}

func (f *Fake) lookup(w http.ResponseWriter, r *http.Request) {
	c, ok := f.kit.Guard(w, r)
	if !ok {
		return
	}
	var req struct {
		Lookup string            `json:"lookup"`
		Input  map[string]string `json:"input"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_json", "The body must be JSON: {\"lookup\": ..., \"input\": {...}}.")
		return
	}
	lk, known := lookups[req.Lookup]
	if !known {
		writeError(w, http.StatusBadRequest, "unknown_lookup", "Unknown lookup "+req.Lookup+"; use company_by_domain, person_by_email or contact_by_company.")
		return
	}
	value := strings.TrimSpace(req.Input[lk.input])
	if value == "" {
		writeError(w, http.StatusBadRequest, "invalid_input", "The "+req.Lookup+" lookup needs input."+lk.input+".")
		return
	}
	if f.credits(c.Account) == 0 {
		writeError(w, http.StatusPaymentRequired, "insufficient_credits", "The account has no lookup credits left.")
		return
	}
	data, found, problem := lk.run(value)
	if problem != "" {
		writeError(w, http.StatusBadRequest, "invalid_input", problem)
		return
	}
	if !found {
		fakekit.WriteJSON(w, http.StatusOK, map[string]any{"found": false})
		return
	}
	// Only answers with data cost a credit, as with most enrichment providers.
	f.mu.Lock()
	f.used[c.Account]++
	f.mu.Unlock()
	fakekit.WriteJSON(w, http.StatusOK, map[string]any{"found": true, "data": data})
}
