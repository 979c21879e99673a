// Package shopify is Patchbay's client of a Shopify store's GraphQL Admin API
// (POST /admin/api/{version}/graphql.json, the version in the catalog): the shop behind a connection,
// customers, orders and products with cursor pagination, customers written
// with customerCreate and customerUpdate (several per request, by alias),
// and the app's own uninstall as revocation. It checks the HMAC Shopify puts
// on the OAuth redirect and on webhooks, and reads app/uninstalled.
//
// Shopify meters the GraphQL API by calculated query cost in a leaky bucket
// (1000 points, 100 restored a second on the standard plan). Every query here
// has a cost the connector computes the way Shopify documents it; the
// session's cost meter is charged that much before the request is sent and
// corrected by the throttleStatus of every answer, so the connector waits
// instead of being throttled. A THROTTLED answer (another client shares the
// bucket) is waited out and retried.
package shopify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"patchbay/internal/connector"
	"patchbay/internal/transport"
)

// Shopify's documented figures.
const (
	pageMax      = 250  // first at most
	maxQueryCost = 1000 // the most one query may cost
	mutationCost = 10   // each mutation field
	batchMax     = 10   // mutations per request: 100 points
	throttleTry  = 8    // THROTTLED answers waited out before giving up
)

var shopPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*\.myshopify\.com$`)

// Connector is the Shopify client; one value serves every store.
type Connector struct{}

var (
	_ connector.Connector        = (*Connector)(nil)
	_ connector.Revoker          = (*Connector)(nil)
	_ connector.CallbackVerifier = (*Connector)(nil)
	_ connector.WebhookVerifier  = (*Connector)(nil)
)

// New returns the Shopify connector.
func New() *Connector { return &Connector{} }

// Identity reads the shop: its permanent myshopify.com domain is the account id.
func (c *Connector) Identity(ctx context.Context, s connector.Session) (connector.Account, error) {
	var out struct {
		Shop struct {
			ID              string `json:"id"`
			Name            string `json:"name"`
			Email           string `json:"email"`
			MyshopifyDomain string `json:"myshopifyDomain"`
		} `json:"shop"`
	}
	if err := c.query(ctx, s, 1, `query { shop { id name email myshopifyDomain } }`, nil, &out); err != nil {
		return connector.Account{}, err
	}
	if out.Shop.MyshopifyDomain == "" {
		return connector.Account{}, &connector.Error{Class: connector.ClassUnknown, Message: "Shopify named no shop for the token"}
	}
	return connector.Account{ID: out.Shop.MyshopifyDomain, Name: out.Shop.Name, Email: out.Shop.Email}, nil
}

// Revoke uninstalls the app from the store (DELETE
// /admin/api_permissions/current.json), which ends the offline token: Shopify
// has no other way to revoke one.
func (c *Connector) Revoke(ctx context.Context, s connector.Session) error {
	base := strings.TrimRight(s.BaseURL, "/")
	i := strings.Index(base, "/admin/api/")
	if i < 0 {
		return &connector.Error{Class: connector.ClassInvalid, Message: "the Shopify endpoint is not an Admin API URL"}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, base[:i]+"/admin/api_permissions/current.json", nil)
	if err != nil {
		return &connector.Error{Class: connector.ClassInvalid, Message: "bad Shopify URL"}
	}
	resp, err := s.HTTP.Do(req)
	if err != nil {
		return connector.TransportError(ctx, err, "Shopify")
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusNotFound {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil // already uninstalled: the goal is reached
	}
	if resp.StatusCode >= 300 {
		return httpError(resp, s.Creds)
	}
	return nil
}

// VerifyCallback checks the redirect's hmac (hex HMAC-SHA256, with the app's
// secret, of the other parameters sorted by name) and that it names a
// myshopify.com store. A replayed redirect is stopped by the
// single-use state, so the timestamp is not checked.
func (c *Connector) VerifyCallback(q url.Values, secret string, _ map[string]string) error {
	got := q.Get("hmac")
	if got == "" {
		return errors.New("the redirect carries no hmac parameter")
	}
	if secret == "" {
		return errors.New("no Shopify client secret is configured to check the redirect")
	}
	want := sign(q, secret)
	sum, err := hex.DecodeString(got)
	if err != nil || !hmac.Equal(sum, want) {
		return errors.New("the hmac parameter does not match the redirect's parameters")
	}
	if shop := q.Get("shop"); !shopPattern.MatchString(shop) {
		return fmt.Errorf("the redirect names no valid store (shop %q)", shop)
	}
	// A redirect from another store than cfg["shop"] is signed all the same;
	// the connection's account check refuses it as an account change.
	return nil
}

func sign(q url.Values, secret string) []byte {
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
	return m.Sum(nil)
}

// VerifyWebhook checks X-Shopify-Hmac-Sha256 (base64 HMAC-SHA256 of the raw
// body with the app's secret) and reads the topic and store. app/uninstalled
// ends the grant.
func (c *Connector) VerifyWebhook(h http.Header, body []byte, secret string) (connector.WebhookEvent, error) {
	got, err := base64.StdEncoding.DecodeString(h.Get("X-Shopify-Hmac-Sha256"))
	if err != nil || len(got) == 0 {
		return connector.WebhookEvent{}, errors.New("the webhook carries no X-Shopify-Hmac-Sha256 header")
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	if !hmac.Equal(got, m.Sum(nil)) {
		return connector.WebhookEvent{}, errors.New("X-Shopify-Hmac-Sha256 does not match the body")
	}
	shop := h.Get("X-Shopify-Shop-Domain")
	if !shopPattern.MatchString(shop) {
		return connector.WebhookEvent{}, fmt.Errorf("the webhook names no valid store (%q)", shop)
	}
	topic := h.Get("X-Shopify-Topic")
	return connector.WebhookEvent{Topic: topic, Account: shop, Revoked: topic == "app/uninstalled"}, nil
}

// gqlError is one entry of a GraphQL answer's errors.
type gqlError struct {
	Message    string `json:"message"`
	Extensions struct {
		Code           string `json:"code"`
		RequiredAccess string `json:"requiredAccess"`
	} `json:"extensions"`
}

type gqlResponse struct {
	Data       json.RawMessage `json:"data"`
	Errors     json.RawMessage `json:"errors"`
	Extensions struct {
		Cost *struct {
			RequestedQueryCost float64 `json:"requestedQueryCost"`
			ThrottleStatus     struct {
				MaximumAvailable   float64 `json:"maximumAvailable"`
				CurrentlyAvailable float64 `json:"currentlyAvailable"`
				RestoreRate        float64 `json:"restoreRate"`
			} `json:"throttleStatus"`
		} `json:"cost"`
	} `json:"extensions"`
}

// query sends one GraphQL document whose calculated cost is cost, paced by
// the session's meter, and decodes data into out.
func (c *Connector) query(ctx context.Context, s connector.Session, cost int, doc string, vars map[string]any, out any) error {
	body, err := json.Marshal(map[string]any{"query": doc, "variables": vars})
	if err != nil {
		return &connector.Error{Class: connector.ClassInvalid, Message: "cannot encode the query: " + err.Error()}
	}
	mutation := strings.HasPrefix(doc, "mutation")
	for try := 0; ; try++ {
		var ticket connector.CostTicket
		if s.Meter != nil {
			if ticket, err = s.Meter.Take(ctx, float64(cost)); err != nil {
				return err
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(s.BaseURL, "/")+"/graphql.json", bytes.NewReader(body))
		if err != nil {
			return &connector.Error{Class: connector.ClassInvalid, Message: "bad Shopify URL"}
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		if !mutation {
			req = transport.Idempotent(req) // a query changes nothing: safe to resend after a 5xx
		}
		gr, err := c.send(s, req)
		if s.Meter != nil {
			var report *connector.CostReport
			if cst := gr.Extensions.Cost; cst != nil {
				ts := cst.ThrottleStatus
				report = &connector.CostReport{Available: ts.CurrentlyAvailable, Maximum: ts.MaximumAvailable, RestorePerSecond: ts.RestoreRate}
			}
			s.Meter.Done(ticket, report)
		}
		if err != nil {
			return err
		}
		errs := decodeErrors(gr.Errors)
		if throttled(errs) {
			if try < throttleTry && s.Meter != nil {
				continue // the meter now knows the bucket is short and waits
			}
			return &connector.Error{Class: connector.ClassRateLimited, Code: "THROTTLED", Message: "Shopify's query cost limit is exhausted; try again shortly"}
		}
		if len(errs) > 0 {
			return graphqlError(errs, s.Creds)
		}
		if out == nil {
			return nil
		}
		if err := json.Unmarshal(gr.Data, out); err != nil {
			return &connector.Error{Class: connector.ClassUnknown, Message: "Shopify sent data Patchbay cannot read", Err: err}
		}
		return nil
	}
}

// send posts one GraphQL request and reads the answer.
func (c *Connector) send(s connector.Session, req *http.Request) (gqlResponse, error) {
	var gr gqlResponse
	resp, err := s.HTTP.Do(req)
	if err != nil {
		return gr, connector.TransportError(req.Context(), err, "Shopify")
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return gr, httpError(resp, s.Creds)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&gr); err != nil {
		return gr, &connector.Error{Class: connector.ClassUnknown, Status: resp.StatusCode, Message: "Shopify sent a response Patchbay cannot read", Err: err}
	}
	return gr, nil
}

// decodeErrors reads a GraphQL errors member: a list of errors, or a string
// or object for errors raised before the query ran.
func decodeErrors(raw json.RawMessage) []gqlError {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var list []gqlError
	if json.Unmarshal(raw, &list) == nil {
		return list
	}
	return []gqlError{{Message: string(raw)}}
}

func throttled(errs []gqlError) bool {
	for _, e := range errs {
		if e.Extensions.Code == "THROTTLED" {
			return true
		}
	}
	return false
}

var requiredScope = regexp.MustCompile("`([a-z_]+)`")

func graphqlError(errs []gqlError, creds connector.Credentials) error {
	msgs := make([]string, 0, len(errs))
	for _, e := range errs {
		msgs = append(msgs, e.Message)
	}
	first := errs[0]
	ce := &connector.Error{Class: connector.ClassInvalid, Code: first.Extensions.Code, Message: redact(strings.Join(msgs, "; "), creds)}
	switch first.Extensions.Code {
	case "ACCESS_DENIED":
		ce.Class = connector.ClassForbidden
		if m := requiredScope.FindStringSubmatch(first.Extensions.RequiredAccess + " " + first.Message); m != nil {
			ce.Scope = m[1]
		}
	case "INTERNAL_SERVER_ERROR":
		ce.Class = connector.ClassUnavailable
	}
	return ce
}

// httpError classifies an HTTP-level refusal. 402 (the store's payment is
// overdue: frozen) and 423 (locked) are suspensions of the store.
func httpError(resp *http.Response, creds connector.Credentials) error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var body struct {
		Errors json.RawMessage `json:"errors"`
	}
	_ = json.Unmarshal(raw, &body)
	msg := strings.Trim(string(body.Errors), `"`)
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	ce := &connector.Error{Class: connector.ClassForStatus(resp.StatusCode), Status: resp.StatusCode, Message: redact(msg, creds)}
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		// Offline tokens never expire: a refused one was revoked (the app
		// was uninstalled), which a reconnect (re-installation) heals.
		ce.Class = connector.ClassRevoked
	case http.StatusPaymentRequired, http.StatusLocked:
		ce.Class = connector.ClassSuspended
	case http.StatusTooManyRequests:
		ce.RetryAfter = transport.RetryAfter(resp.Header, 0)
	}
	return ce
}

func redact(msg string, creds connector.Credentials) string {
	for _, secret := range []string{creds.AccessToken, creds.RefreshToken, creds.APIKey} {
		if len(secret) >= 8 {
			msg = strings.ReplaceAll(msg, secret, "[redacted]")
		}
	}
	return msg
}
