// Package connector defines what Patchbay asks of a provider's API client and
// holds the registry of those clients. A connector knows HTTP and the
// provider's JSON; it knows nothing about tables, syncs or storage.
package connector

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"time"
)

// Credentials are the secrets of one connection, as the connector needs them.
// They live decrypted only in memory.
type Credentials struct {
	AccessToken  string            `json:"access_token,omitempty"`
	RefreshToken string            `json:"refresh_token,omitempty"`
	APIKey       string            `json:"api_key,omitempty"`
	Expiry       time.Time         `json:"expiry,omitzero"`
	Extra        map[string]string `json:"extra,omitempty"` // token-response extras a provider needs (instance_url, id URL)
}

// SigningSecretKey is where the signing secret of a connection that signs
// what Patchbay sends it (a webhook destination) sits in Credentials.Extra,
// which no request carries as authentication.
const SigningSecretKey = "signing_secret"

// Session is one authenticated conversation with a provider on behalf of a
// connection. HTTP already applies authentication, the connection's request
// budget, retries and refresh-on-401; connectors only build requests.
type Session struct {
	HTTP    *http.Client
	BaseURL string            // API base URL without trailing slash (the real provider or its fake)
	Config  map[string]string // provider-specific settings given at connect time
	Creds   Credentials       // read-only; for calls that carry the token in the URL or body
	// IdentityURL is the provider's account-lookup endpoint outside the API
	// base, when it has one (catalog urls.identity).
	IdentityURL string
	// Meter is the connection's cost budget for providers that meter by
	// query cost (catalog rate_limit.cost); nil for the others.
	Meter CostMeter
}

// CostMeter paces a connection whose provider meters requests by cost in a
// leaky bucket of points. Take waits until cost points are free by the
// meter's model of the bucket and spends them; Done ends that request, with
// the provider's report of the bucket when the answer carried one (nil
// otherwise), which corrects the model.
type CostMeter interface {
	Take(ctx context.Context, cost float64) (CostTicket, error)
	Done(t CostTicket, report *CostReport)
}

// CostTicket is one request's reservation of cost points. Mark is how many
// requests of the meter had completed when it was made: a report whose
// request was overtaken by another's completion may predate that one's charge.
type CostTicket struct {
	Cost float64
	Mark uint64
}

// CostReport is a provider's account of its cost bucket after a request.
type CostReport struct {
	Available        float64
	Maximum          float64
	RestorePerSecond float64
}

// Account identifies who the credentials belong to at the provider.
type Account struct {
	ID     string   `json:"id"`
	Name   string   `json:"name,omitempty"`
	Email  string   `json:"email,omitempty"`
	Scopes []string `json:"-"` // granted scopes when the provider reports them; nil if it does not
	// Limited says, in words for the user, that the grant no longer covers
	// something the connection's settings name (an Airtable base no longer
	// shared) and how to fix it; the connection shows limited_permissions.
	Limited string `json:"-"`
	// Usage is the provider's request quota as last reported, when it has one
	// (Salesforce's daily API requests); nil otherwise.
	Usage *Usage `json:"-"`
	// Endpoint is the API base URL this account is served from, for providers
	// that decide it per account (Mailchimp's data centre); "" to keep the
	// catalog's. The connection stores it and later sessions use it.
	Endpoint string `json:"-"`
}

// Usage is how much of a provider's request quota an account has spent.
type Usage struct {
	Used   int64  `json:"used"`
	Limit  int64  `json:"limit"`
	Period string `json:"period"` // the quota's period, e.g. "24h"
}

// Record is one provider object (contact, company, customer, member...).
type Record struct {
	ID        string         `json:"id"`
	Fields    map[string]any `json:"fields"`
	UpdatedAt time.Time      `json:"updated_at,omitzero"`
}

// ListRequest asks for one page of records.
type ListRequest struct {
	Object string
	Cursor string    // opaque; empty for the first page
	Since  time.Time // incremental: records modified at or after this instant; zero for all
	Limit  int       // page size; 0 means the provider's maximum
	Fields []string  // properties to return; nil for the provider's default set
	Filter Filter    // only records matching it; set only when the connector's CanFilter agreed
}

// Page is one page of records and the cursor to the next ("" when done).
type Page struct {
	Records []Record
	Next    string
}

// WriteRequest creates or updates records. Records with an ID are updated;
// records without one are created, or matched by MatchField when set.
type WriteRequest struct {
	Object     string
	MatchField string
	Records    []Record
	// Table is the Patchbay table the records are pushed from and RowIDs the
	// row of each record (same order), for destinations that report where a
	// record came from (webhooks); provider APIs ignore both.
	Table  string
	RowIDs []string
}

// WriteResult is the outcome for Records[Index] of a WriteRequest.
type WriteResult struct {
	Index   int
	ID      string
	Created bool
	Err     error
}

// Connector is a provider's API client.
type Connector interface {
	// Identity returns the account the session's credentials belong to. It is
	// the cheap probe used to validate API keys and to check health.
	Identity(ctx context.Context, s Session) (Account, error)
	// List returns one page of records of an object.
	List(ctx context.Context, s Session, req ListRequest) (Page, error)
	// Write creates or updates records in batches the provider accepts; the
	// caller never sends more than BatchSize records at once.
	Write(ctx context.Context, s Session, req WriteRequest) ([]WriteResult, error)
}

// QuotaReader is a connector whose provider reports, on its answers, how
// many requests its rate window holds (HubSpot's X-HubSpot-RateLimit-*
// headers, Salesforce's Sforce-Limit-Info). RequestsUsed reads that count of
// the catalog's main rate_limit window from an answer's headers; ok is false
// when the answer did not say. The transport then waits out requests that
// other clients of the same account sent.
type QuotaReader interface {
	RequestsUsed(h http.Header) (used int, ok bool)
}

// Revoker is implemented by connectors whose provider can revoke a grant.
type Revoker interface {
	Revoke(ctx context.Context, s Session) error
}

// CallbackVerifier is implemented by connectors whose provider signs the OAuth
// redirect (Shopify's hmac parameter). The connection service calls it with
// the callback's whole query before exchanging the code, with Patchbay's client
// secret and the connection's config; an error refuses the callback.
type CallbackVerifier interface {
	VerifyCallback(query url.Values, clientSecret string, config map[string]string) error
}

// WebhookEvent is what a provider's signed webhook says about a grant.
type WebhookEvent struct {
	Topic   string
	Account string // the provider account the event is about (a store domain)
	// Revoked says the grant ended at the provider (an app uninstalled): the
	// account's connections turn red with authorization_revoked.
	Revoked bool
}

// WebhookVerifier is implemented by connectors whose provider sends signed
// lifecycle webhooks. VerifyWebhook checks the signature of the raw body with
// Patchbay's client secret and says what the webhook means.
type WebhookVerifier interface {
	VerifyWebhook(header http.Header, body []byte, clientSecret string) (WebhookEvent, error)
}

// Registry maps provider ids to connectors. It is built explicitly at start-up
// (no init-time globals) and is read-only afterwards.
type Registry struct {
	mu sync.RWMutex
	m  map[string]Connector
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{m: map[string]Connector{}} }

// Register adds a connector; it refuses an empty id or one already taken.
func (r *Registry) Register(id string, c Connector) error {
	if id == "" || c == nil {
		return errors.New("connector: register needs an id and a connector")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.m[id]; dup {
		return fmt.Errorf("connector: %q registered twice", id)
	}
	r.m[id] = c
	return nil
}

// Get returns the connector for a provider id.
func (r *Registry) Get(id string) (Connector, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	c, ok := r.m[id]
	return c, ok
}

// IDs lists the registered provider ids in order.
func (r *Registry) IDs() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	ids := make([]string, 0, len(r.m))
	for id := range r.m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}
