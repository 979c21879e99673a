// Package airtable is a local fake of Airtable for tests and `patchbay demo`:
// OAuth 2 with PKCE required (one-hour access tokens, refresh tokens that
// rotate on every use), the meta API (whoami, bases, base schema), and the
// records API (list with offset paging and filterByFormula, create, update,
// upsert with performUpsert) with Airtable's limits: 10 records a write, 100
// a page, 5 requests per second per base and a 30-second penalty after a 429.
// It is rooted at "/" and serves the paths of airtable.com and
// api.airtable.com alike; the demo mounts it under /_fakes/airtable/ with
// http.StripPrefix. The control surface of shared/API.md is at /_control/,
// plus POST /_control/bases {"account","bases":[ids]} to choose which bases an
// account has shared.
package airtable

import (
	"fmt"
	"hash/fnv"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"patchbay/internal/fakes/fakekit"
)

// Defaults, from Airtable's documentation.
const (
	DefaultAccessTTL     = time.Hour
	DefaultBaseRateLimit = 5 // requests per second per base
	DefaultTokenLimit    = 50
	Penalty              = 30 * time.Second
	maxPageSize          = 100
	maxWriteRecords      = 10
)

// Options configure a Fake; the zero value is a working fake.
type Options struct {
	ClientID       string
	ClientSecret   string
	RedirectURIs   []string
	Now            func() time.Time
	DefaultAccount string        // default "acct-demo"
	AccessTTL      time.Duration // default DefaultAccessTTL
	BaseRateLimit  int           // per base per second; default DefaultBaseRateLimit
	// HTTP posts webhook pings; default a client with a 10 s timeout.
	HTTP *http.Client
	// RetryWaits are the waits before re-sending a failed ping; default
	// fakekit.DefaultRetryWaits.
	RetryWaits []time.Duration
}

// Fake is the Airtable fake; it is an http.Handler.
type Fake struct {
	o   Options
	kit *fakekit.Kit
	mux *http.ServeMux

	mu     sync.Mutex
	shared map[string][]string // account → base ids shared with the app; default both demo bases
	hooks  *webhookState
	fields fakekit.Fields // fields users added or deleted (schema.go)
}

// New returns a Fake with its default account.
func New(o Options) *Fake {
	if o.AccessTTL <= 0 {
		o.AccessTTL = DefaultAccessTTL
	}
	if o.BaseRateLimit <= 0 {
		o.BaseRateLimit = DefaultBaseRateLimit
	}
	f := &Fake{o: o, mux: http.NewServeMux(), shared: map[string][]string{},
		hooks: &webhookState{hooks: map[string]*atWebhook{}, deliver: fakekit.NewDeliverer(o.HTTP, o.RetryWaits)}}
	f.kit = fakekit.New(fakekit.Options{
		Name:                "Airtable",
		Now:                 o.Now,
		DefaultAccount:      o.DefaultAccount,
		ClientID:            o.ClientID,
		ClientSecret:        o.ClientSecret,
		RedirectURIs:        o.RedirectURIs,
		Scopes:              scopes,
		AccessTTL:           o.AccessTTL,
		TokenPrefix:         "oaa",
		RequirePKCE:         true,
		RotateRefreshTokens: true,
		RateLimit:           DefaultTokenLimit,
		RateWindow:          time.Second,
		RatePenalty:         Penalty,
		OnChange:            f.onChange,
		Errors: fakekit.Errors{
			Unauthorized: func(w http.ResponseWriter, _ *http.Request, _ fakekit.AuthFailure) {
				writeError(w, http.StatusUnauthorized, "AUTHENTICATION_REQUIRED", "Authentication required")
			},
			RateLimited: func(w http.ResponseWriter, _ *http.Request, _ string) {
				writeError(w, http.StatusTooManyRequests, "RATE_LIMIT_REACHED", "Rate limit exceeded. Please try again later")
			},
			Unavailable: func(w http.ResponseWriter, _ *http.Request) {
				writeError(w, http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE", "Airtable is temporarily unavailable. Please retry shortly.")
			},
			Token: func(w http.ResponseWriter, _ *http.Request, e *fakekit.OAuthError) {
				fakekit.WriteJSON(w, e.Status, map[string]string{"error": e.Code, "error_description": e.Description})
			},
		},
		TokenResponse: func(t fakekit.TokenSet) any {
			return map[string]any{"access_token": t.AccessToken, "refresh_token": t.RefreshToken, "token_type": "Bearer",
				"scope": strings.Join(t.Scopes, " "), "expires_in": t.ExpiresIn, "refresh_expires_in": 60 * 24 * 3600}
		},
	})
	f.routes()
	return f
}

var scopes = []fakekit.Scope{
	{Name: "data.records:read", Description: "See the data in records"},
	{Name: "data.records:write", Description: "Create, edit, and delete records"},
	{Name: "schema.bases:read", Description: "See the structure of a base, like table names or field types"},
	{Name: "user.email:read", Description: "See the user's email address"},
	{Name: "webhook:manage", Description: "View, create, delete webhooks for a base, as well as fetch webhook payloads"},
}

func (f *Fake) routes() {
	f.kit.Routes(f.mux, fakekit.OAuthPaths{Authorize: "/oauth2/v1/authorize", Token: "/oauth2/v1/token"})
	f.mux.HandleFunc("POST /_control/bases", f.controlBases)
	f.mux.HandleFunc("GET /v0/meta/whoami", f.whoami)
	f.mux.HandleFunc("GET /v0/meta/bases", f.bases)
	f.mux.HandleFunc("GET /v0/meta/bases/{base}/tables", f.api("schema.bases:read", f.schema))
	f.kit.FieldRoutes(f.mux, &f.fields, f.knownTable, checkField)
	f.mux.HandleFunc("GET /v0/{base}/{table}", f.api("data.records:read", f.list))
	f.mux.HandleFunc("POST /v0/{base}/{table}", f.api("data.records:write", f.create))
	f.mux.HandleFunc("PATCH /v0/{base}/{table}", f.api("data.records:write", f.update))
	f.mux.HandleFunc("DELETE /v0/{base}/{table}", f.api("data.records:write", f.deleteRecords))
	// airtable.js writes to the table path with a trailing slash.
	f.mux.HandleFunc("POST /v0/{base}/{table}/{$}", f.api("data.records:write", f.create))
	f.mux.HandleFunc("PATCH /v0/{base}/{table}/{$}", f.api("data.records:write", f.update))
	f.mux.HandleFunc("DELETE /v0/{base}/{table}/{$}", f.api("data.records:write", f.deleteRecords))
	f.mux.HandleFunc("GET /v0/{base}/{table}/{record}", f.api("data.records:read", f.getRecord))
	f.mux.HandleFunc("PATCH /v0/{base}/{table}/{record}", f.api("data.records:write", f.patchRecord))
	f.mux.HandleFunc("DELETE /v0/{base}/{table}/{record}", f.api("data.records:write", f.deleteRecord))
	f.webhookRoutes()
}

// ServeHTTP serves Airtable's paths rooted at "/".
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) { f.mux.ServeHTTP(w, r) }

// Kit exposes the shared machinery.
func (f *Fake) Kit() *fakekit.Kit { return f.kit }

// Stats returns the fake's counters.
func (f *Fake) Stats() fakekit.Stats { return f.kit.Stats() }

// IssueToken returns credentials for account without the consent dance.
func (f *Fake) IssueToken(account string, scopes ...string) fakekit.TokenSet {
	return f.kit.IssueToken(account, scopes)
}

func hash(s string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(s))
	return h.Sum32()
}

// idOf builds an Airtable-shaped id: a prefix and 14 characters.
func idOf(prefix, seed string) string {
	const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	h := uint64(hash(seed))<<32 | uint64(hash(seed+"!"))
	b := make([]byte, 14)
	for i := range b {
		b[i] = alphabet[h%uint64(len(alphabet))]
		h /= uint64(len(alphabet))
		if h == 0 {
			h = uint64(hash(seed + string(b[:i+1])))
		}
	}
	return prefix + string(b)
}

// BaseID is the id of an account's n-th demo base (n = 1 or 2).
func BaseID(account string, n int) string { return idOf("app", fmt.Sprintf("%s#%d", account, n)) }

// UserID is the id of the user who signs in as account.
func UserID(account string) string { return idOf("usr", account) }

// UserEmail is that user's e-mail.
func UserEmail(account string) string { return account + "@example.com" }

func tableID(base, name string) string { return idOf("tbl", base+"/"+name) }

func fieldID(base, table, field string) string { return idOf("fld", base+"/"+table+"/"+field) }

// baseNames are the demo bases' names.
var baseNames = map[int]string{1: "Sales CRM", 2: "Marketing"}

// sharedBases lists the bases account has shared with the app.
func (f *Fake) sharedBases(account string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ids, ok := f.shared[account]; ok {
		return slices.Clone(ids)
	}
	return []string{BaseID(account, 1), BaseID(account, 2)}
}

// SetSharedBases chooses which of account's bases the app may access, as a
// user does on Airtable's consent page (or by removing a base from the grant).
func (f *Fake) SetSharedBases(account string, ids []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.shared[account] = slices.Clone(ids)
}

func (f *Fake) controlBases(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Account string   `json:"account"`
		Bases   []string `json:"bases"`
	}
	if err := decodeJSON(r, &in); err != nil {
		fakekit.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	if in.Account == "" {
		in.Account = f.kit.DefaultAccount()
	}
	f.SetSharedBases(in.Account, in.Bases)
	fakekit.WriteJSON(w, http.StatusOK, map[string]any{"account": in.Account, "bases": in.Bases})
}

// baseName is a shared base's name, "" when account may not access id.
func (f *Fake) baseName(account, id string) string {
	if !slices.Contains(f.sharedBases(account), id) {
		return ""
	}
	for n, name := range baseNames {
		if BaseID(account, n) == id {
			return name
		}
	}
	return ""
}

func (f *Fake) whoami(w http.ResponseWriter, r *http.Request) {
	c, ok := f.kit.Guard(w, r)
	if !ok {
		return
	}
	body := map[string]any{"id": UserID(c.Account), "scopes": c.Scopes}
	if c.HasScope("user.email:read") {
		body["email"] = UserEmail(c.Account)
	}
	fakekit.WriteJSON(w, http.StatusOK, body)
}

func (f *Fake) bases(w http.ResponseWriter, r *http.Request) {
	c, ok := f.kit.Guard(w, r)
	if !ok {
		return
	}
	if !c.HasScope("schema.bases:read") {
		forbidden(w)
		return
	}
	out := []map[string]string{}
	for _, id := range f.sharedBases(c.Account) {
		if name := f.baseName(c.Account, id); name != "" {
			out = append(out, map[string]string{"id": id, "name": name, "permissionLevel": "create"})
		}
	}
	fakekit.WriteJSON(w, http.StatusOK, map[string]any{"bases": out})
}

// api wraps a base-scoped handler: authentication, the token's limit, the
// scope, access to the base and the base's own limit of 5 requests a second.
func (f *Fake) api(scope string, h func(http.ResponseWriter, *http.Request, fakekit.Call, string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, ok := f.kit.Guard(w, r)
		if !ok {
			return
		}
		base := r.PathValue("base")
		if !f.kit.Admit(w, r, c, "base:"+base, f.o.BaseRateLimit, time.Second) {
			return
		}
		if !c.HasScope(scope) || f.baseName(c.Account, base) == "" {
			forbidden(w)
			return
		}
		h(w, r, c, base)
	}
}

func forbidden(w http.ResponseWriter) {
	writeError(w, http.StatusForbidden, "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND",
		"Invalid permissions, or the requested model was not found. Check that both your user and your token have the required permissions, and that the model names and/or ids are correct.")
}

func writeError(w http.ResponseWriter, status int, typ, message string) {
	fakekit.WriteJSON(w, status, map[string]any{"error": map[string]string{"type": typ, "message": message}})
}
