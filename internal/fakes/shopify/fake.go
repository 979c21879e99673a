// Package shopify is a local fake of a Shopify store's Admin API for tests
// and `patchbay demo`: per-store OAuth (consent, the access_token endpoint,
// offline tokens that do not expire, the signed redirect with shop, timestamp
// and hmac), the GraphQL Admin API (POST /admin/api/{version}/graphql.json)
// for shop, customers, orders and products with cursor pagination, the
// customerCreate and customerUpdate mutations, Shopify's calculated query
// cost with its leaky bucket (THROTTLED errors and extensions.cost in every
// answer), and the app/uninstalled webhook, signed with the app's secret.
//
// A real store lives at https://{shop}/admin/...; the fake serves every store
// under its one base, and the store is the account that signs in (accounts
// are store domains such as acme.myshopify.com). The control surface of
// shared/API.md is at /_control/, plus POST /_control/uninstall
// {"account","webhook_url"} and POST|GET /_control/cost.
package shopify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"patchbay/internal/fakes/fakekit"
)

// Documented figures of the GraphQL Admin API on the standard plan.
const (
	DefaultBucket  = 1000 // points the bucket holds
	DefaultRestore = 100  // points restored per second
	MaxQueryCost   = 1000 // the most one query may cost
	MaxPageSize    = 250  // first/last at most
)

// Scopes are the access scopes the fake knows.
var scopes = []fakekit.Scope{
	{Name: "read_customers", Description: "View customer details"},
	{Name: "write_customers", Description: "Create and edit customers"},
	{Name: "read_orders", Description: "View orders"},
	{Name: "read_products", Description: "View products"},
}

// Options configure a Fake; the zero value is a working fake.
type Options struct {
	ClientID     string
	ClientSecret string // signs redirects and webhooks; also checked at the token endpoint
	RedirectURIs []string
	Now          func() time.Time
	// DefaultAccount is the store consent signs in as; default demo-store.myshopify.com.
	DefaultAccount string
	Bucket         float64 // default DefaultBucket
	Restore        float64 // default DefaultRestore
	// WebhookURL receives app/uninstalled when a store uninstalls the app;
	// the uninstall control may name another.
	WebhookURL string
	// WebhookPath, when WebhookURL is empty, is a path on the host that asked
	// for the uninstall (the demo serves Patchbay and its fakes on one
	// listener, so the webhook goes back to it).
	WebhookPath string
	// HTTP sends webhooks; default a client with a 10 s timeout.
	HTTP *http.Client
	// RetryWaits are the waits before redelivering a failed webhook;
	// default fakekit.DefaultRetryWaits.
	RetryWaits []time.Duration
}

// Fake is the Shopify fake; it is an http.Handler.
type Fake struct {
	o   Options
	kit *fakekit.Kit
	mux *http.ServeMux

	mu      sync.Mutex
	buckets map[string]*bucket
	bucket  float64
	restore float64
	cost    CostStats
	hooks   *webhookState
}

// CostStats count the cost-based limit, as GET /_control/cost returns them.
type CostStats struct {
	Bucket    float64 `json:"bucket"`
	Restore   float64 `json:"restore_per_second"`
	Queries   int64   `json:"queries"`
	Throttled int64   `json:"throttled"` // queries refused with THROTTLED
	Points    float64 `json:"points"`    // actual cost spent
	Webhooks  int64   `json:"webhooks"`  // webhooks delivered (2xx)
}

// bucket is one store's leaky bucket. It runs on the wall clock, not on
// Options.Now: it meters the client's real pace.
type bucket struct {
	avail float64
	at    time.Time
}

// New returns a Fake.
func New(o Options) *Fake {
	if o.DefaultAccount == "" {
		o.DefaultAccount = "demo-store.myshopify.com"
	}
	if o.Bucket <= 0 {
		o.Bucket = DefaultBucket
	}
	if o.Restore <= 0 {
		o.Restore = DefaultRestore
	}
	if o.HTTP == nil {
		o.HTTP = &http.Client{Timeout: 10 * time.Second}
	}
	f := &Fake{o: o, mux: http.NewServeMux(), buckets: map[string]*bucket{}, bucket: o.Bucket, restore: o.Restore, hooks: newWebhookState(o)}
	f.kit = fakekit.New(fakekit.Options{
		Name:           "Shopify",
		Now:            o.Now,
		DefaultAccount: o.DefaultAccount,
		ClientID:       o.ClientID,
		ClientSecret:   o.ClientSecret,
		RedirectURIs:   o.RedirectURIs,
		Scopes:         scopes,
		APIKeys:        true, // offline access tokens: no expiry, no refresh token
		TokenPrefix:    "shpat_",
		Objects:        []string{"customers", "orders", "products"},
		Credential:     func(r *http.Request) string { return r.Header.Get("X-Shopify-Access-Token") },
		SignRedirect:   f.signRedirect,
		OnChange:       f.onChange,
		Errors: fakekit.Errors{
			Unauthorized: func(w http.ResponseWriter, _ *http.Request, _ fakekit.AuthFailure) {
				fakekit.WriteJSON(w, http.StatusUnauthorized, map[string]string{"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"})
			},
			Unavailable: func(w http.ResponseWriter, _ *http.Request) {
				fakekit.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"errors": "Service Unavailable"})
			},
		},
		TokenResponse: func(t fakekit.TokenSet) any {
			return map[string]any{"access_token": t.AccessToken, "scope": strings.Join(t.Scopes, ",")}
		},
	})
	f.routes()
	return f
}

func (f *Fake) routes() {
	f.kit.Routes(f.mux, fakekit.OAuthPaths{Authorize: "/admin/oauth/authorize", Token: "/admin/oauth/access_token"})
	f.mux.HandleFunc("POST /admin/api/{version}/graphql.json", f.graphql)
	f.mux.HandleFunc("DELETE /admin/api_permissions/current.json", f.deletePermissions)
	f.mux.HandleFunc("POST /_control/uninstall", f.controlUninstall)
	f.webhookRoutes()
	f.mux.HandleFunc("GET /_control/cost", func(w http.ResponseWriter, r *http.Request) { fakekit.WriteJSON(w, http.StatusOK, f.CostStats()) })
	f.mux.HandleFunc("POST /_control/cost", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Bucket  float64 `json:"bucket"`
			Restore float64 `json:"restore_per_second"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			fakekit.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		f.SetCost(in.Bucket, in.Restore)
		fakekit.WriteJSON(w, http.StatusOK, f.CostStats())
	})
}

// ServeHTTP serves every store's paths rooted at "/".
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) { f.mux.ServeHTTP(w, r) }

// Kit exposes the shared machinery.
func (f *Fake) Kit() *fakekit.Kit { return f.kit }

// Stats returns the kit's counters.
func (f *Fake) Stats() fakekit.Stats { return f.kit.Stats() }

// CostStats returns the cost counters.
func (f *Fake) CostStats() CostStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.cost
	s.Bucket, s.Restore = f.bucket, f.restore
	return s
}

// SetCost changes the bucket size and restore rate (0 keeps a value); every
// store's bucket starts full again.
func (f *Fake) SetCost(size, restore float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if size > 0 {
		f.bucket = size
	}
	if restore > 0 {
		f.restore = restore
	}
	f.buckets = map[string]*bucket{}
}

// IssueToken returns an offline access token for a store without the consent dance.
func (f *Fake) IssueToken(shop string, scopes ...string) string {
	return f.kit.IssueToken(shop, scopes).AccessToken
}

// SeedRecords stores records of object (customers, orders, products) for a
// store: flat maps of the fields the API shows (email, firstName, tags…).
func (f *Fake) SeedRecords(shop, object string, records []map[string]any) []fakekit.Record {
	return f.kit.Records(shop, object).Seed(records)
}

// Records returns what the fake holds for a store's object.
func (f *Fake) Records(shop, object string) []fakekit.Record {
	return f.kit.Records(shop, object).All()
}

// ShopID is the numeric id of a store.
func ShopID(shop string) int64 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(shop))
	return 50_000_000 + int64(h.Sum32()%40_000_000)
}

// ShopName is the display name of a store: its subdomain.
func ShopName(shop string) string {
	name, _, _ := strings.Cut(shop, ".")
	return name
}

// ShopEmail is the store owner's e-mail.
func ShopEmail(shop string) string { return "owner@" + ShopName(shop) + ".example.com" }

// Sign is the hex HMAC-SHA256 Shopify puts in a redirect's hmac parameter:
// every other parameter, sorted by name, joined as name=value with "&".
func Sign(q url.Values, secret string) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		if k != "hmac" && k != "signature" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+strings.Join(q[k], ","))
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strings.Join(parts, "&")))
	return hex.EncodeToString(m.Sum(nil))
}

// SignWebhook is the base64 HMAC-SHA256 of a webhook body, as Shopify sends
// it in X-Shopify-Hmac-Sha256.
func SignWebhook(body []byte, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func (f *Fake) signRedirect(q url.Values, account string) {
	if account == "" {
		account = f.kit.DefaultAccount()
	}
	q.Set("shop", account)
	q.Set("timestamp", strconv.FormatInt(f.kit.Now().Unix(), 10))
	q.Set("host", base64.RawURLEncoding.EncodeToString([]byte("admin.shopify.com/store/"+ShopName(account))))
	q.Set("hmac", Sign(q, f.o.ClientSecret))
}

// Uninstall removes the app from a store: its tokens stop working and the
// app/uninstalled webhook is posted, signed, to webhookURL (or
// Options.WebhookURL; none: no webhook). It returns the webhook's status.
func (f *Fake) Uninstall(ctx context.Context, shop, webhookURL string) (int, error) {
	f.kit.Revoke(shop)
	if webhookURL == "" {
		webhookURL = f.o.WebhookURL
	}
	if webhookURL == "" {
		return 0, nil
	}
	body, _ := json.Marshal(map[string]any{
		"id": ShopID(shop), "name": ShopName(shop), "email": ShopEmail(shop), "domain": shop, "myshopify_domain": shop,
		"plan_name": "basic", "currency": "USD",
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, webhookURL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Shopify-Topic", "app/uninstalled")
	req.Header.Set("X-Shopify-Shop-Domain", shop)
	req.Header.Set("X-Shopify-API-Version", APIVersion)
	req.Header.Set("X-Shopify-Webhook-Id", fakekit.CorrelationID())
	req.Header.Set("X-Shopify-Triggered-At", f.kit.Now().UTC().Format(time.RFC3339Nano))
	req.Header.Set("X-Shopify-Hmac-Sha256", SignWebhook(body, f.o.ClientSecret))
	resp, err := f.o.HTTP.Do(req)
	if err != nil {
		return 0, fmt.Errorf("deliver app/uninstalled: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode < 300 {
		f.mu.Lock()
		f.cost.Webhooks++
		f.mu.Unlock()
	}
	return resp.StatusCode, nil
}

// deletePermissions is DELETE /admin/api_permissions/current.json: the app
// uninstalls itself from the store (how Patchbay revokes its grant).
func (f *Fake) deletePermissions(w http.ResponseWriter, r *http.Request) {
	c, ok := f.kit.Guard(w, r)
	if !ok {
		return
	}
	// The uninstall stands even when the webhook cannot be delivered.
	_, _ = f.Uninstall(r.Context(), c.Account, f.webhookURL(r, ""))
	fakekit.WriteJSON(w, http.StatusOK, map[string]any{})
}

// webhookURL is where app/uninstalled goes: the given URL, Options.WebhookURL,
// or Options.WebhookPath on the requesting host.
func (f *Fake) webhookURL(r *http.Request, given string) string {
	switch {
	case given != "":
		return given
	case f.o.WebhookURL != "":
		return f.o.WebhookURL
	case f.o.WebhookPath != "":
		return "http://" + r.Host + f.o.WebhookPath
	}
	return ""
}

func (f *Fake) controlUninstall(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Account    string `json:"account"`
		WebhookURL string `json:"webhook_url"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		fakekit.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	if in.Account == "" {
		in.Account = f.kit.DefaultAccount()
	}
	status, err := f.Uninstall(r.Context(), in.Account, f.webhookURL(r, in.WebhookURL))
	if err != nil {
		fakekit.WriteJSON(w, http.StatusBadGateway, map[string]string{"error": err.Error()})
		return
	}
	fakekit.WriteJSON(w, http.StatusOK, map[string]any{"account": in.Account, "webhook_status": status})
}

// take spends cost points of a store's bucket, or says how many are left.
func (f *Fake) take(shop string, cost float64) (ok bool, left float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	b, found := f.buckets[shop]
	if !found {
		b = &bucket{avail: f.bucket, at: now}
		f.buckets[shop] = b
	}
	b.avail = min(f.bucket, b.avail+now.Sub(b.at).Seconds()*f.restore)
	b.at = now
	f.cost.Queries++
	if cost > b.avail {
		f.cost.Throttled++
		return false, b.avail
	}
	b.avail -= cost
	return true, b.avail
}

// refund gives back what a query was charged beyond its actual cost.
func (f *Fake) refund(shop string, requested, actual float64) float64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.buckets[shop]
	b.avail = min(f.bucket, b.avail+requested-actual)
	f.cost.Points += actual
	return b.avail
}

func (f *Fake) throttleStatus(avail float64) map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return map[string]any{"maximumAvailable": f.bucket, "currentlyAvailable": int(avail), "restoreRate": f.restore}
}

func hasScope(c fakekit.Call, scope string) bool {
	if c.HasScope(scope) {
		return true
	}
	// Shopify's write scopes include the matching read access.
	return strings.HasPrefix(scope, "read_") && slices.Contains(c.Scopes, "write_"+strings.TrimPrefix(scope, "read_"))
}
