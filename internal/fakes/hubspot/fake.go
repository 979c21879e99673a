// Package hubspot is a local fake of HubSpot for tests and `patchbay demo`:
// the OAuth v1 endpoints (consent, token, token metadata, refresh-token
// deletion), the CRM v3 objects API for contacts and companies (list, read,
// create, search, batch create/update/upsert/read), the properties API, and
// HubSpot's limits and error bodies. It is rooted at "/" and serves the same
// paths as app.hubspot.com and api.hubapi.com, so a real URL rebased onto the
// fake's base URL works; the demo mounts it under /_fakes/hubspot/ with
// http.StripPrefix. The control surface of shared/API.md is at /_control/.
package hubspot

import (
	"hash/fnv"
	"net/http"
	"strconv"
	"time"

	"patchbay/internal/fakes/fakekit"
)

// Defaults, from HubSpot's documentation.
const (
	// DefaultAccessTTL is HubSpot's access token lifetime (expires_in 1800).
	DefaultAccessTTL = 30 * time.Minute
	// DefaultRateLimit requests per DefaultRateWindow per account is the
	// documented burst limit of a public (OAuth) app.
	DefaultRateLimit  = 110
	DefaultRateWindow = 10 * time.Second
	// DefaultSearchRateLimit is the CRM search limit per account per second.
	DefaultSearchRateLimit = 5
	// DefaultSearchResultLimit is how deep a search pages: no further than
	// 10,000 results.
	DefaultSearchResultLimit = 10_000
)

// Options configure a Fake; the zero value is a working fake.
type Options struct {
	ClientID     string   // when set, OAuth requests must carry it
	ClientSecret string   // when set, the token endpoint checks it
	RedirectURIs []string // allowed redirect URIs; empty = any
	Now          func() time.Time
	// DefaultAccount is the account consent signs in as; default "acct-demo".
	DefaultAccount string
	AccessTTL      time.Duration // default DefaultAccessTTL
	// StableRefreshTokens hands back the same refresh token on every refresh,
	// which is what HubSpot really does. The fake rotates by default instead
	// (a new refresh token each time, reuse of an old one refused and counted)
	// so that Patchbay's rotation-safe refresh is exercised against it.
	StableRefreshTokens bool
	RateLimit           int           // default DefaultRateLimit
	RateWindow          time.Duration // default DefaultRateWindow
	SearchRateLimit     int           // per second; default DefaultSearchRateLimit
	// SearchResultLimit is how deep a search may page; default
	// DefaultSearchResultLimit. Tests lower it to exercise clients' handling
	// of the cap without seeding ten thousand records.
	SearchResultLimit int
	// WebhookURL is the app's webhook target; empty: no webhooks until set
	// through SetWebhooks or POST /_control/webhooks.
	WebhookURL string
}

// Fake is the HubSpot fake; it is an http.Handler.
type Fake struct {
	o      Options
	kit    *fakekit.Kit
	mux    *http.ServeMux
	appID  int64
	hooks  webhooks
	fields fakekit.Fields // properties users added or deleted (fields.go)
}

// New returns a Fake with its default account.
func New(o Options) *Fake {
	if o.AccessTTL <= 0 {
		o.AccessTTL = DefaultAccessTTL
	}
	if o.RateLimit <= 0 {
		o.RateLimit, o.RateWindow = DefaultRateLimit, DefaultRateWindow
	}
	if o.RateWindow <= 0 {
		o.RateWindow = DefaultRateWindow
	}
	if o.SearchRateLimit <= 0 {
		o.SearchRateLimit = DefaultSearchRateLimit
	}
	if o.SearchResultLimit <= 0 {
		o.SearchResultLimit = DefaultSearchResultLimit
	}
	f := &Fake{o: o, mux: http.NewServeMux(), appID: 1_000_000 + int64(hash("app:"+o.ClientID)%9_000_000)}
	f.kit = fakekit.New(fakekit.Options{
		Name:                "HubSpot",
		Now:                 o.Now,
		DefaultAccount:      o.DefaultAccount,
		ClientID:            o.ClientID,
		ClientSecret:        o.ClientSecret,
		RedirectURIs:        o.RedirectURIs,
		Scopes:              scopes,
		AccessTTL:           o.AccessTTL,
		TokenPrefix:         "hs-",
		RotateRefreshTokens: !o.StableRefreshTokens,
		RateLimit:           o.RateLimit,
		RateWindow:          o.RateWindow,
		Objects:             []string{"contacts", "companies"},
		OnChange:            f.onChange,
		Errors: fakekit.Errors{
			Unauthorized: unauthorized,
			RateLimited:  rateLimited,
			Unavailable:  unavailable,
			Token:        tokenError,
		},
		TokenResponse: func(t fakekit.TokenSet) any {
			return map[string]any{
				"token_type": "bearer", "access_token": t.AccessToken, "refresh_token": t.RefreshToken,
				"expires_in": t.ExpiresIn, "hub_id": HubID(t.Account), "scopes": t.Scopes,
			}
		},
	})
	f.hooks.client = &http.Client{Timeout: 10 * time.Second}
	f.SetWebhooks(o.WebhookURL, nil)
	f.routes()
	f.webhookRoutes()
	return f
}

func (f *Fake) routes() {
	f.kit.Routes(f.mux, fakekit.OAuthPaths{Authorize: "/oauth/authorize", Token: "/oauth/v1/token"})
	f.mux.HandleFunc("GET /oauth/v1/access-tokens/{token}", f.accessTokenInfo)
	f.mux.HandleFunc("DELETE /oauth/v1/refresh-tokens/{token}", f.deleteRefreshToken)

	read := func(o *objectDef) []string { return []string{o.readScope()} }
	write := func(o *objectDef) []string { return []string{o.writeScope()} }
	schema := func(o *objectDef) []string { return []string{o.schemaScope(), o.readScope()} }
	f.mux.HandleFunc("GET /crm/v3/objects/{object}", f.crm(read, f.list))
	f.mux.HandleFunc("POST /crm/v3/objects/{object}", f.crm(write, f.createOne))
	f.mux.HandleFunc("GET /crm/v3/objects/{object}/{id}", f.crm(read, f.getOne))
	f.mux.HandleFunc("PATCH /crm/v3/objects/{object}/{id}", f.crm(write, f.updateOne))
	f.mux.HandleFunc("DELETE /crm/v3/objects/{object}/{id}", f.crm(write, f.archiveOne))
	f.mux.HandleFunc("POST /crm/v3/objects/{object}/batch/archive", f.crm(write, f.batchArchive))
	f.mux.HandleFunc("POST /crm/v3/objects/{object}/search", f.crm(read, f.search))
	f.mux.HandleFunc("POST /crm/v3/objects/{object}/batch/create", f.crm(write, f.batchCreate))
	f.mux.HandleFunc("POST /crm/v3/objects/{object}/batch/update", f.crm(write, f.batchUpdate))
	f.mux.HandleFunc("POST /crm/v3/objects/{object}/batch/upsert", f.crm(write, f.batchUpsert))
	f.mux.HandleFunc("POST /crm/v3/objects/{object}/batch/read", f.crm(read, f.batchRead))
	f.mux.HandleFunc("GET /crm/v3/properties/{object}", f.crm(schema, f.properties))
	f.kit.FieldRoutes(f.mux, &f.fields, knownObject, checkProperty)
}

// ServeHTTP serves HubSpot's paths rooted at "/".
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) { f.mux.ServeHTTP(w, r) }

// Kit exposes the shared machinery: outage, revoke, expire, rate limits,
// token issuing and counters.
func (f *Fake) Kit() *fakekit.Kit { return f.kit }

// Stats returns the fake's counters.
func (f *Fake) Stats() fakekit.Stats { return f.kit.Stats() }

// IssueToken returns credentials for account without the consent dance; no
// scopes means every scope the fake knows.
func (f *Fake) IssueToken(account string, scopes ...string) fakekit.TokenSet {
	return f.kit.IssueToken(account, scopes)
}

// SeedRecords stores records of object ("contacts" or "companies") for
// account. Each record is a flat map of properties, or {"id", "properties"}.
func (f *Fake) SeedRecords(account, object string, records []map[string]any) ([]fakekit.Record, error) {
	if _, ok := objects[object]; !ok {
		return nil, &unknownObjectError{object}
	}
	return f.kit.Records(account, object).Seed(records), nil
}

// Records returns what the fake holds for account's object, ordered by id.
func (f *Fake) Records(account, object string) []fakekit.Record {
	return f.kit.Records(account, object).All()
}

type unknownObjectError struct{ object string }

func (e *unknownObjectError) Error() string {
	return "hubspot fake: unknown object " + strconv.Quote(e.object) + " (contacts or companies)"
}

// HubID is the portal (hub) id of an account: a stable 8-digit number
// derived from the account id, so demos and tests can predict it.
func HubID(account string) int64 { return 20_000_000 + int64(hash("hub:"+account)%70_000_000) }

// UserEmail is the e-mail of the user who signs in as account.
func UserEmail(account string) string { return account + "@example.com" }

// HubDomain is the portal domain reported for account.
func HubDomain(account string) string { return account + ".example.com" }

func userID(account string) int64 { return 1_000_000 + int64(hash("user:"+account)%9_000_000) }

func hash(s string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(s))
	return h.Sum32()
}

// accessTokenInfo is GET /oauth/v1/access-tokens/{token}: the token travels in
// the path, so there is no Authorization header to check.
func (f *Fake) accessTokenInfo(w http.ResponseWriter, r *http.Request) {
	if f.kit.CheckOutage(w, r) {
		return
	}
	token := r.PathValue("token")
	info, failure := f.kit.Introspect(token)
	if failure != "" {
		unauthorized(w, r, failure)
		return
	}
	fakekit.WriteJSON(w, http.StatusOK, map[string]any{
		"token":      token,
		"user":       UserEmail(info.Account),
		"hub_domain": HubDomain(info.Account),
		"scopes":     info.Scopes,
		"hub_id":     HubID(info.Account),
		"app_id":     f.appID,
		"expires_in": max(int(info.Expiry.Sub(f.kit.Now())/time.Second), 0),
		"user_id":    userID(info.Account),
		"token_type": "access",
	})
}

// deleteRefreshToken is DELETE /oauth/v1/refresh-tokens/{token}. Like
// HubSpot, it kills the refresh token only: access tokens already issued
// keep working until they expire.
func (f *Fake) deleteRefreshToken(w http.ResponseWriter, r *http.Request) {
	if f.kit.CheckOutage(w, r) {
		return
	}
	if !f.kit.RevokeRefreshToken(r.PathValue("token")) {
		writeError(w, http.StatusNotFound, "OBJECT_NOT_FOUND", "The refresh token does not exist or was already deleted.", nil)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// crm wraps a CRM handler with authentication, rate limit, object lookup and
// the scope check HubSpot applies per object.
func (f *Fake) crm(need func(*objectDef) []string, h func(http.ResponseWriter, *http.Request, fakekit.Call, *objectDef)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, ok := f.kit.Guard(w, r)
		if !ok {
			return
		}
		if c.Limit > 0 {
			w.Header().Set("X-HubSpot-RateLimit-Max", strconv.Itoa(c.Limit))
			w.Header().Set("X-HubSpot-RateLimit-Remaining", strconv.Itoa(c.Remaining))
			w.Header().Set("X-HubSpot-RateLimit-Interval-Milliseconds", strconv.FormatInt(c.Window.Milliseconds(), 10))
		}
		def, ok := lookupObject(r.PathValue("object"))
		if !ok {
			validationError(w, "Unable to infer object type from: "+r.PathValue("object"), nil)
			return
		}
		if scopes := need(def); !c.HasScope(scopes...) {
			missingScopes(w, scopes[0])
			return
		}
		h(w, r, c, f.accountDef(c.Account, def))
	}
}

// writeError writes HubSpot's error body: status, message, correlationId and
// category, plus any extra fields (context, errors, policyName...).
func writeError(w http.ResponseWriter, status int, category, message string, extra map[string]any) {
	body := map[string]any{"status": "error", "message": message, "correlationId": fakekit.CorrelationID(), "category": category}
	for k, v := range extra {
		body[k] = v
	}
	fakekit.WriteJSON(w, status, body)
}

func validationError(w http.ResponseWriter, message string, extra map[string]any) {
	writeError(w, http.StatusBadRequest, "VALIDATION_ERROR", message, extra)
}

func missingScopes(w http.ResponseWriter, scope string) {
	writeError(w, http.StatusForbidden, "MISSING_SCOPES",
		"The access token lacks a scope this call needs: "+scope+".",
		map[string]any{"errors": []map[string]any{{
			"message": "One of these scopes is required.",
			"context": map[string][]string{"requiredGranularScopes": {scope}},
		}}})
}

func unauthorized(w http.ResponseWriter, _ *http.Request, f fakekit.AuthFailure) {
	switch f {
	case fakekit.AuthExpired:
		writeError(w, http.StatusUnauthorized, "EXPIRED_AUTHENTICATION", "The OAuth access token used for this call has expired.", nil)
	case fakekit.AuthMissing:
		writeError(w, http.StatusUnauthorized, "INVALID_AUTHENTICATION", "No credentials were found. This API accepts an OAuth 2.0 access token in the Authorization header.", nil)
	default:
		writeError(w, http.StatusUnauthorized, "INVALID_AUTHENTICATION", "The OAuth access token is not valid; it may have been revoked.", nil)
	}
}

func rateLimited(w http.ResponseWriter, _ *http.Request, policy string) {
	name, msg := "TEN_SECONDLY_ROLLING", "This account has used up its rolling request limit; retry after the Retry-After delay."
	if policy != "" {
		name, msg = "SECONDLY", "This account has used up its per-second CRM search limit; retry after the Retry-After delay."
	}
	writeError(w, http.StatusTooManyRequests, "RATE_LIMITS", msg, map[string]any{"errorType": "RATE_LIMIT", "policyName": name})
}

func unavailable(w http.ResponseWriter, _ *http.Request) {
	writeError(w, http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE", "HubSpot is temporarily unavailable. Please try again later.", nil)
}

// tokenStatus maps the kit's refusal reasons to the status codes of
// HubSpot's token endpoint.
var tokenStatus = map[fakekit.Reason]string{
	fakekit.ReasonBadRefreshToken:    "BAD_REFRESH_TOKEN",
	fakekit.ReasonRefreshTokenReused: "BAD_REFRESH_TOKEN",
	fakekit.ReasonBadCode:            "BAD_AUTH_CODE",
	fakekit.ReasonBadRedirectURI:     "BAD_REDIRECT_URI",
	fakekit.ReasonBadCodeVerifier:    "BAD_AUTH_CODE",
	fakekit.ReasonBadClientID:        "BAD_CLIENT_ID",
	fakekit.ReasonBadClientSecret:    "BAD_CLIENT_SECRET",
	fakekit.ReasonBadGrantType:       "BAD_GRANT_TYPE",
	fakekit.ReasonBadRequest:         "BAD_REQUEST",
}

// tokenError answers like HubSpot (400 with status/message/correlationId) and
// adds RFC 6749's error fields so standard OAuth clients read the code.
func tokenError(w http.ResponseWriter, _ *http.Request, e *fakekit.OAuthError) {
	msg := e.Description
	if e.Reason == fakekit.ReasonBadRefreshToken || e.Reason == fakekit.ReasonRefreshTokenReused {
		msg = "missing or invalid refresh token"
	}
	fakekit.WriteJSON(w, http.StatusBadRequest, map[string]any{
		"status": tokenStatus[e.Reason], "message": msg, "correlationId": fakekit.CorrelationID(),
		"error": e.Code, "error_description": e.Description,
	})
}
