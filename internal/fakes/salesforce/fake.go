// Package salesforce is a local fake of Salesforce for tests and `patchbay
// demo`: the OAuth 2 web-server flow (consent, token, revoke) with Salesforce's
// token answers (instance_url, identity URL, no expires_in, refresh tokens
// that do not rotate), the identity URL, the REST API's limits resource, SOQL
// queries with query-locator paging, and sObject Collections (create, update,
// upsert by external id) for Contact, Lead and Account, with Salesforce's
// error arrays and the Sforce-Limit-Info header. It is rooted at "/" and
// serves the paths of login.salesforce.com and of an instance alike; the demo
// mounts it under /_fakes/salesforce/ with http.StripPrefix. The control
// surface of shared/API.md is at /_control/.
package salesforce

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash/fnv"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"patchbay/internal/fakes/fakekit"
)

// Defaults, from Salesforce's documentation.
const (
	// APIVersion is the REST API version the fake serves (any vNN.N path
	// works; this one is named in URLs the fake writes).
	APIVersion = "v62.0"
	// DefaultDailyLimit is the daily API request allocation of an Enterprise
	// Edition org before per-licence additions (a rolling 24 hours).
	DefaultDailyLimit = 100_000
	// DefaultSessionTTL is how long an access token lives without use being
	// renewed: Salesforce's default session timeout of two hours. Tokens carry
	// no expires_in; clients find out by a 401.
	DefaultSessionTTL = 2 * time.Hour
)

// Options configure a Fake; the zero value is a working fake.
type Options struct {
	ClientID     string
	ClientSecret string
	RedirectURIs []string
	Now          func() time.Time
	// DefaultAccount is the account (org) consent signs in as; default "acct-demo".
	DefaultAccount string
	SessionTTL     time.Duration // default DefaultSessionTTL
	DailyLimit     int           // default DefaultDailyLimit
	// InstanceURL is the instance_url token answers name; default: the URL the
	// token request reached (the fake is its own login host and instance).
	InstanceURL string
}

// Fake is the Salesforce fake; it is an http.Handler.
type Fake struct {
	o   Options
	kit *fakekit.Kit
	mux *http.ServeMux

	mu      sync.Mutex
	cursors map[string]*cursor
}

// New returns a Fake with its default account.
func New(o Options) *Fake {
	if o.SessionTTL <= 0 {
		o.SessionTTL = DefaultSessionTTL
	}
	if o.DailyLimit <= 0 {
		o.DailyLimit = DefaultDailyLimit
	}
	f := &Fake{o: o, mux: http.NewServeMux(), cursors: map[string]*cursor{}}
	f.kit = fakekit.New(fakekit.Options{
		Name:           "Salesforce",
		Now:            o.Now,
		DefaultAccount: o.DefaultAccount,
		ClientID:       o.ClientID,
		ClientSecret:   o.ClientSecret,
		RedirectURIs:   o.RedirectURIs,
		Scopes:         scopes,
		AccessTTL:      o.SessionTTL,
		TokenPrefix:    "00D!",
		RateLimit:      o.DailyLimit,
		RateWindow:     24 * time.Hour,
		Objects:        []string{"Contact", "Lead", "Account"},
		Errors: fakekit.Errors{
			Unauthorized: func(w http.ResponseWriter, _ *http.Request, _ fakekit.AuthFailure) {
				writeErrors(w, http.StatusUnauthorized, "INVALID_SESSION_ID", "Session expired or invalid")
			},
			RateLimited: func(w http.ResponseWriter, _ *http.Request, _ string) {
				// Salesforce answers an exhausted daily allocation with 403 and
				// no Retry-After: the allocation frees up over the rolling day.
				w.Header().Del("Retry-After")
				writeErrors(w, http.StatusForbidden, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
			},
			Unavailable: func(w http.ResponseWriter, _ *http.Request) {
				writeErrors(w, http.StatusServiceUnavailable, "SERVER_UNAVAILABLE", "Salesforce is temporarily unavailable; try again later.")
			},
			Token: tokenError,
		},
		TokenResponseFor: f.tokenResponse,
	})
	f.routes()
	return f
}

// scopes are the OAuth scopes the fake knows.
var scopes = []fakekit.Scope{
	{Name: "api", Description: "Access and manage your data through the REST API."},
	{Name: "refresh_token", Description: "Perform requests at any time (offline access)."},
	{Name: "id", Description: "Access your basic information (identity URL)."},
	{Name: "full", Description: "Full access."},
}

func (f *Fake) routes() {
	f.kit.Routes(f.mux, fakekit.OAuthPaths{Authorize: "/services/oauth2/authorize", Token: "/services/oauth2/token"})
	f.mux.HandleFunc("POST /services/oauth2/revoke", f.revoke)
	f.mux.HandleFunc("GET /id/{org}/{user}", f.identity)
	f.mux.HandleFunc("GET /services/data/{version}/limits", f.rest(f.limits))
	f.mux.HandleFunc("GET /services/data/{version}/query", f.rest(f.query))
	f.mux.HandleFunc("GET /services/data/{version}/query/{locator}", f.rest(f.queryMore))
	f.mux.HandleFunc("POST /services/data/{version}/composite/sobjects", f.rest(f.create))
	f.mux.HandleFunc("PATCH /services/data/{version}/composite/sobjects", f.rest(f.update))
	f.mux.HandleFunc("PATCH /services/data/{version}/composite/sobjects/{object}/{field}", f.rest(f.upsert))
	f.mux.HandleFunc("POST /services/data/{version}/sobjects/{object}", f.rest(f.createRecord))
	f.mux.HandleFunc("GET /services/data/{version}/sobjects/{object}/{id}", f.rest(f.getRecord))
	f.mux.HandleFunc("PATCH /services/data/{version}/sobjects/{object}/{id}", f.rest(f.updateRecord))
	f.mux.HandleFunc("DELETE /services/data/{version}/sobjects/{object}/{id}", f.rest(f.deleteRecord))
	f.mux.HandleFunc("/services/data/", f.rest(func(w http.ResponseWriter, _ *http.Request, _ fakekit.Call) {
		writeErrors(w, http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
	}))
}

// ServeHTTP serves Salesforce's paths rooted at "/".
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

// SeedRecords stores records of object (Contact, Lead or Account) for account;
// each is a flat map of fields.
func (f *Fake) SeedRecords(account, object string, records []map[string]any) ([]fakekit.Record, error) {
	if _, ok := objects[object]; !ok {
		return nil, fmt.Errorf("salesforce fake: unknown object %q (Contact, Lead or Account)", object)
	}
	return f.kit.Records(account, object).Seed(records), nil
}

// Records returns what the fake holds for account's object, ordered by id.
func (f *Fake) Records(account, object string) []fakekit.Record {
	return f.kit.Records(account, object).All()
}

// RecordID is the 18-character Salesforce id under which a stored record
// (a fakekit id) of object is served.
func RecordID(object, storeID string) string {
	def, ok := objects[object]
	if !ok {
		return ""
	}
	return sfid(def.prefix, storeID)
}

// OrgID is the 18-character organization id of an account.
func OrgID(account string) string {
	return sfid("00D", strconv.FormatUint(uint64(hash("org:"+account)%1e9), 10))
}

// UserID is the id of the user who signs in as account.
func UserID(account string) string {
	return sfid("005", strconv.FormatUint(uint64(hash("user:"+account)%1e9), 10))
}

// UserEmail is that user's e-mail.
func UserEmail(account string) string { return account + "@example.com" }

func hash(s string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(s))
	return h.Sum32()
}

// sfid builds an 18-character id: the 3-character key prefix, the number
// zero-padded to 15 characters, and Salesforce's case-safe suffix.
func sfid(prefix, n string) string {
	id15 := prefix + strings.Repeat("0", max(12-len(n), 0)) + n
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
	suffix := make([]byte, 3)
	for chunk := range 3 {
		bits := 0
		for i := range 5 {
			if c := id15[chunk*5+i]; c >= 'A' && c <= 'Z' {
				bits |= 1 << i
			}
		}
		suffix[chunk] = alphabet[bits]
	}
	return id15 + string(suffix)
}

// storeID turns a Salesforce id of object back into a fakekit id.
func storeID(prefix, id string) (string, bool) {
	if len(id) == 18 {
		if sfid(prefix, strings.TrimLeft(id[3:15], "0")) != id {
			return "", false
		}
		id = id[:15]
	}
	if len(id) != 15 || id[:3] != prefix {
		return "", false
	}
	n := strings.TrimLeft(id[3:], "0")
	return n, n != ""
}

func (f *Fake) tokenResponse(r *http.Request, t fakekit.TokenSet) any {
	instance := f.o.InstanceURL
	if instance == "" {
		instance = fakekit.BaseURL(r)
	}
	id := instance + "/id/" + OrgID(t.Account) + "/" + UserID(t.Account)
	issued := strconv.FormatInt(f.kit.Now().UnixMilli(), 10)
	mac := hmac.New(sha256.New, []byte(f.o.ClientSecret))
	mac.Write([]byte(id + issued))
	body := map[string]any{
		"access_token": t.AccessToken, "instance_url": instance, "id": id, "token_type": "Bearer",
		"issued_at": issued, "signature": base64.StdEncoding.EncodeToString(mac.Sum(nil)), "scope": strings.Join(t.Scopes, " "),
	}
	// A refresh token comes only with the code exchange, and only when the
	// refresh_token (offline access) scope was granted; it never rotates.
	if !t.Refreshed && (slices.Contains(t.Scopes, "refresh_token") || slices.Contains(t.Scopes, "full")) {
		body["refresh_token"] = t.RefreshToken
	}
	return body
}

// tokenError answers token endpoint refusals as Salesforce does: 400 with
// RFC 6749's error and error_description.
func tokenError(w http.ResponseWriter, _ *http.Request, e *fakekit.OAuthError) {
	desc := e.Description
	switch e.Reason {
	case fakekit.ReasonBadRefreshToken, fakekit.ReasonRefreshTokenReused:
		desc = "expired access/refresh token"
	case fakekit.ReasonBadCode, fakekit.ReasonBadCodeVerifier:
		desc = "invalid authorization code"
	case fakekit.ReasonBadClientID:
		desc = "client identifier invalid"
	case fakekit.ReasonBadClientSecret:
		desc = "invalid client credentials"
	}
	status := http.StatusBadRequest
	if e.Code == "invalid_client" {
		status = http.StatusUnauthorized
	}
	fakekit.WriteJSON(w, status, map[string]string{"error": e.Code, "error_description": desc})
}

// revoke is POST /services/oauth2/revoke with token=<access or refresh token>:
// a refresh token dies with its access tokens.
func (f *Fake) revoke(w http.ResponseWriter, r *http.Request) {
	if f.kit.CheckOutage(w, r) {
		return
	}
	if err := r.ParseForm(); err != nil || r.Form.Get("token") == "" {
		fakekit.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_token_type", "error_description": "this token type is not supported"})
		return
	}
	if !f.kit.RevokeToken(r.Form.Get("token")) {
		fakekit.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_token", "error_description": "invalid token"})
		return
	}
	w.WriteHeader(http.StatusOK)
}

// identity is the identity URL: who the token's user is, in which org.
func (f *Fake) identity(w http.ResponseWriter, r *http.Request) {
	c, ok := f.kit.Guard(w, r)
	if !ok {
		return
	}
	if !c.HasScope("id", "full", "api") {
		writeErrors(w, http.StatusForbidden, "Bad_OAuth_Token", "The access token was not granted the id scope.")
		return
	}
	if r.PathValue("org") != OrgID(c.Account) || r.PathValue("user") != UserID(c.Account) {
		writeErrors(w, http.StatusForbidden, "Bad_Id", "The identity URL does not belong to this token's user.")
		return
	}
	base := fakekit.BaseURL(r)
	data := base + "/services/data/v{version}/"
	fakekit.WriteJSON(w, http.StatusOK, map[string]any{
		"id": base + "/id/" + OrgID(c.Account) + "/" + UserID(c.Account), "asserted_user": true,
		"user_id": UserID(c.Account), "organization_id": OrgID(c.Account),
		"username": UserEmail(c.Account), "nick_name": c.Account, "display_name": c.Account + " (Admin)",
		"email": UserEmail(c.Account), "email_verified": true, "first_name": c.Account, "last_name": "Admin",
		"timezone": "Europe/Berlin", "active": true, "user_type": "STANDARD", "language": "en_US", "locale": "en_US",
		"utcOffset": 3600000, "is_app_installed": true,
		"urls": map[string]string{
			"rest": data, "sobjects": data + "sobjects/", "query": data + "query/", "search": data + "search/",
			"limits": data + "limits/", "profile": base + "/" + UserID(c.Account),
		},
	})
}

// rest wraps a REST API handler: authentication, the daily allocation, the
// api scope and the Sforce-Limit-Info header every answer carries.
func (f *Fake) rest(h func(http.ResponseWriter, *http.Request, fakekit.Call)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, ok := f.kit.Guard(w, r)
		if !ok {
			return
		}
		if c.Limit > 0 {
			w.Header().Set("Sforce-Limit-Info", fmt.Sprintf("api-usage=%d/%d", c.Limit-c.Remaining, c.Limit))
		}
		if !c.HasScope("api", "full") {
			writeErrors(w, http.StatusForbidden, "API_DISABLED_FOR_ORG", "The REST API is not enabled for this session: the access token was not granted the api scope.")
			return
		}
		h(w, r, c)
	}
}

func (f *Fake) limits(w http.ResponseWriter, _ *http.Request, c fakekit.Call) {
	fakekit.WriteJSON(w, http.StatusOK, map[string]any{
		"DailyApiRequests": map[string]int{"Max": c.Limit, "Remaining": c.Remaining},
	})
}

// apiError is one element of Salesforce's error array.
type apiError struct {
	Message   string   `json:"message"`
	ErrorCode string   `json:"errorCode"`
	Fields    []string `json:"fields,omitempty"`
}

func writeErrors(w http.ResponseWriter, status int, code, message string, fields ...string) {
	fakekit.WriteJSON(w, status, []apiError{{Message: message, ErrorCode: code, Fields: fields}})
}
