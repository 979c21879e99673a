// Package fakekit is the machinery every provider fake shares, so that each
// fake (internal/fakes/<provider>) only describes its own paths and JSON:
// accounts created on first use, an OAuth 2 authorization server (consent
// page, codes with PKCE, access and refresh tokens with optional rotation),
// API-key style credentials, bearer authentication, a per-account sliding
// window rate limit, an in-memory record store, the /_control surface of
// shared/API.md and counters that tests read back.
//
// A Kit is a value: build one per fake with New, mount its routes on the
// fake's ServeMux with Routes, and guard every API handler with Guard.
package fakekit

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Scope is an OAuth scope a fake knows, with the sentence its consent page shows.
type Scope struct {
	Name        string
	Description string
}

// Options configure a Kit. The zero value is a working fake with no rate
// limit, one-hour tokens that keep their refresh token, and any client.
type Options struct {
	Name           string           // provider name on the consent page
	Now            func() time.Time // defaults to time.Now
	DefaultAccount string           // first account; default "acct-demo"

	ClientID     string   // when set, authorize and token requests must carry it
	ClientSecret string   // when set, the token endpoint checks it
	RedirectURIs []string // allowed redirect URIs, compared exactly; empty = any
	Scopes       []Scope  // known scopes; a control token without scopes gets them all

	// APIKeys makes the credentials API keys: they never expire on their own
	// and come without refresh tokens.
	APIKeys     bool
	AccessTTL   time.Duration // access token lifetime; default 1 h
	TokenPrefix string        // prefix of generated tokens, to make them recognisable
	// RotateRefreshTokens issues a new refresh token on every refresh and
	// retires the one used; using a retired one again is refused and counted.
	RotateRefreshTokens bool

	RateLimit  int           // requests per RateWindow per account; 0 = unlimited
	RateWindow time.Duration // default 1 s

	Objects []string // objects the record control accepts; empty = any

	Errors Errors
	// TokenResponse renders a successful token endpoint answer; the default is
	// RFC 6749's access_token, token_type, expires_in, refresh_token, scope.
	TokenResponse func(t TokenSet) any
}

// Errors let a provider fake answer failures in its own JSON. Nil functions
// fall back to a generic JSON body.
type Errors struct {
	Unauthorized func(w http.ResponseWriter, r *http.Request, f AuthFailure)
	// RateLimited is called after the Retry-After header is set; policy is
	// "" for the main per-account limit or the name given to Admit.
	RateLimited func(w http.ResponseWriter, r *http.Request, policy string)
	Unavailable func(w http.ResponseWriter, r *http.Request)
	Token       func(w http.ResponseWriter, r *http.Request, e *OAuthError)
}

// Kit is the shared state of one provider fake. All methods are safe for
// concurrent use.
type Kit struct {
	o   Options
	now func() time.Time

	mu       sync.Mutex
	accounts map[string]*account
	order    []string
	access   map[string]*accessToken
	refresh  map[string]*refreshToken
	codes    map[string]*authCode
	outage   bool
	limit    int
	per      time.Duration
	stats    Stats

	recMu   sync.Mutex
	records map[[2]string]*Store
}

type account struct {
	windows map[string]*window // "" is the main limit; others by policy name
	stats   AccountStats
}

// Stats are the fake's counters, as GET /_control/stats returns them.
type Stats struct {
	Calls        int64 `json:"calls"`        // API requests received
	Unauthorized int64 `json:"unauthorized"` // answered 401
	Unavailable  int64 `json:"unavailable"`  // answered 503 during an outage
	RateLimited  int64 `json:"rate_limited"` // 429s sent, every policy
	// RequestsBeyondLimit counts requests that arrived while an account's
	// main window was full; each was answered 429.
	RequestsBeyondLimit int64 `json:"requests_beyond_limit"`
	// OverLimit counts requests accepted although the window already held the
	// limit. The fake refuses those, so anything but 0 is a bug in the fake.
	OverLimit           int64                   `json:"over_limit"`
	TokensIssued        int64                   `json:"tokens_issued"`
	TokensRefreshed     int64                   `json:"tokens_refreshed"`
	RefreshTokensReused int64                   `json:"refresh_tokens_reused"`
	Authorizations      int64                   `json:"authorizations"` // consent approvals
	Denials             int64                   `json:"denials"`        // consent denials
	Accounts            map[string]AccountStats `json:"accounts"`
}

// AccountStats are the counters of one account.
type AccountStats struct {
	Calls           int64 `json:"calls"` // authenticated API requests, refused or not
	RateLimited     int64 `json:"rate_limited"`
	TokensIssued    int64 `json:"tokens_issued"`
	TokensRefreshed int64 `json:"tokens_refreshed"`
}

// New returns a Kit with its default account already created.
func New(o Options) *Kit {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.DefaultAccount == "" {
		o.DefaultAccount = "acct-demo"
	}
	if o.AccessTTL <= 0 {
		o.AccessTTL = time.Hour
	}
	if o.RateWindow <= 0 {
		o.RateWindow = time.Second
	}
	k := &Kit{
		o:        o,
		now:      o.Now,
		accounts: map[string]*account{},
		access:   map[string]*accessToken{},
		refresh:  map[string]*refreshToken{},
		codes:    map[string]*authCode{},
		limit:    o.RateLimit,
		per:      o.RateWindow,
		records:  map[[2]string]*Store{},
	}
	k.mu.Lock()
	k.accountLocked(o.DefaultAccount)
	k.mu.Unlock()
	return k
}

// Now is the fake's current time.
func (k *Kit) Now() time.Time { return k.now() }

// DefaultAccount is the account consent signs in as when none is chosen.
func (k *Kit) DefaultAccount() string { return k.o.DefaultAccount }

// Accounts lists the account ids in creation order.
func (k *Kit) Accounts() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.order)
}

func (k *Kit) accountLocked(id string) *account {
	a, ok := k.accounts[id]
	if !ok {
		a = &account{windows: map[string]*window{}}
		k.accounts[id] = a
		k.order = append(k.order, id)
	}
	return a
}

// Call is an API request that passed Guard.
type Call struct {
	Account   string
	Scopes    []string
	Limit     int           // the main limit in force (0 = none)
	Remaining int           // requests left in the window after this one
	Window    time.Duration // length of the main window
}

// HasScope reports whether the credentials carry any of the scopes.
func (c Call) HasScope(scopes ...string) bool {
	for _, s := range scopes {
		if slices.Contains(c.Scopes, s) {
			return true
		}
	}
	return false
}

// Guard runs the checks every API request passes, in the order a provider
// applies them: outage (503), bearer credentials (401), the account's rate
// window (429 with Retry-After). It writes the refusal itself and returns
// false when the handler must stop.
func (k *Kit) Guard(w http.ResponseWriter, r *http.Request) (Call, bool) {
	k.mu.Lock()
	now := k.now() // read under the lock so that window logs stay in time order
	k.stats.Calls++
	if k.outage {
		k.stats.Unavailable++
		k.mu.Unlock()
		k.unavailable(w, r)
		return Call{}, false
	}
	info, failure := k.lookupLocked(bearer(r), now)
	if failure != "" {
		k.stats.Unauthorized++
		k.mu.Unlock()
		k.unauthorized(w, r, failure)
		return Call{}, false
	}
	a := k.accountLocked(info.Account)
	a.stats.Calls++
	win := a.window("")
	ok, retry := win.admit(now, k.limit, k.per)
	if !ok {
		k.stats.RequestsBeyondLimit++
		k.refuseLocked(a)
		k.mu.Unlock()
		k.rateLimited(w, r, "", retry)
		return Call{}, false
	}
	call := Call{Account: info.Account, Scopes: info.Scopes, Limit: k.limit, Window: k.per}
	if k.limit > 0 {
		n := win.count(now, k.per)
		if n > k.limit {
			k.stats.OverLimit++
		}
		call.Remaining = max(k.limit-n, 0)
	}
	k.mu.Unlock()
	return call, true
}

// Admit applies a secondary limit of n requests per per to the account of a
// guarded call, such as HubSpot's stricter search limit. It answers 429 itself
// and returns false when the policy's window is full.
func (k *Kit) Admit(w http.ResponseWriter, r *http.Request, c Call, policy string, n int, per time.Duration) bool {
	k.mu.Lock()
	a := k.accountLocked(c.Account)
	ok, retry := a.window(policy).admit(k.now(), n, per)
	if !ok {
		k.refuseLocked(a)
	}
	k.mu.Unlock()
	if !ok {
		k.rateLimited(w, r, policy, retry)
	}
	return ok
}

func (a *account) window(policy string) *window {
	w, ok := a.windows[policy]
	if !ok {
		w = &window{}
		a.windows[policy] = w
	}
	return w
}

func (k *Kit) refuseLocked(a *account) {
	k.stats.RateLimited++
	a.stats.RateLimited++
}

// CheckOutage answers 503 and returns true during an outage. It is for
// provider endpoints that are not bearer-authenticated (token metadata,
// revocation) but go down with the rest of the API.
func (k *Kit) CheckOutage(w http.ResponseWriter, r *http.Request) bool {
	k.mu.Lock()
	k.stats.Calls++
	down := k.outage
	if down {
		k.stats.Unavailable++
	}
	k.mu.Unlock()
	if down {
		k.unavailable(w, r)
	}
	return down
}

// SetOutage turns the outage on or off.
func (k *Kit) SetOutage(on bool) {
	k.mu.Lock()
	k.outage = on
	k.mu.Unlock()
}

// SetRateLimit sets the main per-account limit to n requests per per; n <= 0
// restores the limit the Kit was built with.
func (k *Kit) SetRateLimit(n int, per time.Duration) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if n <= 0 {
		k.limit, k.per = k.o.RateLimit, k.o.RateWindow
		return
	}
	k.limit, k.per = n, per
}

// Stats returns a copy of the counters.
func (k *Kit) Stats() Stats {
	k.mu.Lock()
	defer k.mu.Unlock()
	s := k.stats
	s.Accounts = make(map[string]AccountStats, len(k.accounts))
	for id, a := range k.accounts {
		s.Accounts[id] = a.stats
	}
	return s
}

// Records returns the store of an account's object, created on first use.
func (k *Kit) Records(account, object string) *Store {
	k.recMu.Lock()
	defer k.recMu.Unlock()
	key := [2]string{account, object}
	s, ok := k.records[key]
	if !ok {
		s = newStore(k.now)
		k.records[key] = s
	}
	return s
}

// knowsObject reports whether the record control accepts object.
func (k *Kit) knowsObject(object string) bool {
	return object != "" && (len(k.o.Objects) == 0 || slices.Contains(k.o.Objects, object))
}

func (k *Kit) unauthorized(w http.ResponseWriter, r *http.Request, f AuthFailure) {
	if k.o.Errors.Unauthorized != nil {
		k.o.Errors.Unauthorized(w, r, f)
		return
	}
	WriteJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized", "reason": string(f)})
}

func (k *Kit) rateLimited(w http.ResponseWriter, r *http.Request, policy string, retry time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(retry)))
	if k.o.Errors.RateLimited != nil {
		k.o.Errors.RateLimited(w, r, policy)
		return
	}
	WriteJSON(w, http.StatusTooManyRequests, map[string]string{"error": "rate_limited"})
}

func (k *Kit) unavailable(w http.ResponseWriter, r *http.Request) {
	if k.o.Errors.Unavailable != nil {
		k.o.Errors.Unavailable(w, r)
		return
	}
	WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "unavailable"})
}

// WriteJSON answers status with v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// CorrelationID returns a random UUID-shaped id, as providers put in error
// bodies for support requests.
func CorrelationID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func randomToken(prefix string) string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}
