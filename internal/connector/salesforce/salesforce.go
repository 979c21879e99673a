// Package salesforce is Patchbay's Salesforce API client: the identity URL of
// the token for the org and user, the REST API's limits resource for the
// daily request allocation, SOQL queries with query-locator paging for reads,
// sObject Collections for writes (create, update, upsert by external id) and
// token revocation. The session's base URL is the org's instance_url.
// Authentication, the request budget, retries and refresh-on-401 are the
// session's HTTP client's business.
package salesforce

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"patchbay/internal/connector"
	"patchbay/internal/transport"
)

// Salesforce's documented sizes and the API version Patchbay speaks.
const (
	APIVersion    = "v62.0"
	collectionMax = 200  // records per sObject Collections request
	batchMin      = 200  // query batch sizes Salesforce accepts
	batchMax      = 2000 // and its default
)

// Connector is Salesforce's API client; one value serves every connection.
type Connector struct{}

var (
	_ connector.Connector = (*Connector)(nil)
	_ connector.Revoker   = (*Connector)(nil)
)

// New returns the Salesforce connector.
func New() *Connector { return &Connector{} }

// Identity reads the token's identity URL (org and user) and the org's daily
// API request allocation.
func (c *Connector) Identity(ctx context.Context, s connector.Session) (connector.Account, error) {
	idURL := s.Creds.Extra["id"]
	if s.Creds.AccessToken == "" || idURL == "" {
		return connector.Account{}, &connector.Error{Class: connector.ClassUnauthorized, Message: "the connection has no Salesforce access token or identity URL; reconnect it"}
	}
	if u, err := url.Parse(idURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || !strings.Contains(u.Path, "/id/") {
		return connector.Account{}, &connector.Error{Class: connector.ClassInvalid, Message: "the token's identity URL is not one of Salesforce"}
	}
	var id struct {
		UserID         string `json:"user_id"`
		OrganizationID string `json:"organization_id"`
		Username       string `json:"username"`
		DisplayName    string `json:"display_name"`
		Email          string `json:"email"`
	}
	if _, err := c.do(ctx, s, call{method: http.MethodGet, url: idURL, out: &id}); err != nil {
		return connector.Account{}, err
	}
	var limits struct {
		DailyAPIRequests struct {
			Max       int64 `json:"Max"`
			Remaining int64 `json:"Remaining"`
		} `json:"DailyApiRequests"`
	}
	h, err := c.do(ctx, s, call{method: http.MethodGet, path: "/limits", out: &limits})
	if err != nil {
		return connector.Account{}, err
	}
	acct := connector.Account{ID: id.OrganizationID, Name: instanceName(s.BaseURL), Email: id.Email}
	if acct.Email == "" {
		acct.Email = id.Username
	}
	if u, ok := usage(h); ok {
		acct.Usage = u
	} else if l := limits.DailyAPIRequests; l.Max > 0 {
		acct.Usage = &connector.Usage{Used: l.Max - l.Remaining, Limit: l.Max, Period: "24h"}
	}
	return acct, nil
}

// instanceName is the host of the org's instance (acme.my.salesforce.com).
func instanceName(base string) string {
	if u, err := url.Parse(base); err == nil && u.Host != "" {
		return u.Host
	}
	return base
}

// RequestsUsed reads the org's API requests of the last 24 hours from the
// Sforce-Limit-Info header (connector.QuotaReader).
func (c *Connector) RequestsUsed(h http.Header) (int, bool) {
	u, ok := usage(h)
	if !ok {
		return 0, false
	}
	return int(u.Used), true
}

// usage reads the Sforce-Limit-Info header: "api-usage=18/5000[; ...]".
func usage(h http.Header) (*connector.Usage, bool) {
	for _, part := range strings.Split(h.Get("Sforce-Limit-Info"), ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		if k != "api-usage" {
			continue
		}
		a, b, _ := strings.Cut(v, "/")
		used, err1 := strconv.ParseInt(a, 10, 64)
		limit, err2 := strconv.ParseInt(b, 10, 64)
		if err1 == nil && err2 == nil {
			return &connector.Usage{Used: used, Limit: limit, Period: "24h"}, true
		}
	}
	return nil, false
}

// Revoke revokes the refresh token (and with it every access token issued
// from it), or the access token when there is no refresh token. The org's
// instance answers /services/oauth2/revoke as login.salesforce.com does.
func (c *Connector) Revoke(ctx context.Context, s connector.Session) error {
	token := s.Creds.RefreshToken
	if token == "" {
		token = s.Creds.AccessToken
	}
	if token == "" {
		return nil
	}
	endpoint := strings.TrimRight(s.BaseURL, "/") + "/services/oauth2/revoke"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(url.Values{"token": {token}}.Encode()))
	if err != nil {
		return &connector.Error{Class: connector.ClassInvalid, Message: "bad Salesforce revoke URL"}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.HTTP.Do(req)
	if err != nil {
		return connector.TransportError(ctx, err, "Salesforce")
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	var eb struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_ = json.Unmarshal(raw, &eb)
	if eb.Error == "invalid_token" {
		return nil // already revoked or expired: the goal is reached
	}
	return &connector.Error{Class: connector.ClassForStatus(resp.StatusCode), Status: resp.StatusCode, Code: eb.Error, Message: redact(eb.Description, s.Creds)}
}

// call is one request to the REST API: a path below /services/data/vXX.X,
// or an absolute url (the identity URL).
type call struct {
	method, path, url string
	header            http.Header
	in, out           any
	idempotent        bool
}

// apiError is one element of Salesforce's error array; sObject Collections
// name the code statusCode instead of errorCode.
type apiError struct {
	Message    string   `json:"message"`
	ErrorCode  string   `json:"errorCode"`
	StatusCode string   `json:"statusCode"`
	Fields     []string `json:"fields"`
}

func (e apiError) code() string {
	if e.ErrorCode != "" {
		return e.ErrorCode
	}
	return e.StatusCode
}

func (c *Connector) do(ctx context.Context, s connector.Session, cl call) (http.Header, error) {
	var body io.Reader
	if cl.in != nil {
		b, err := json.Marshal(cl.in)
		if err != nil {
			return nil, &connector.Error{Class: connector.ClassInvalid, Message: "cannot encode the request: " + err.Error()}
		}
		body = bytes.NewReader(b)
	}
	target := cl.url
	if target == "" {
		target = strings.TrimRight(s.BaseURL, "/") + "/services/data/" + APIVersion + cl.path
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, target, body)
	if err != nil {
		return nil, &connector.Error{Class: connector.ClassInvalid, Message: "bad Salesforce instance URL"}
	}
	for k, v := range cl.header {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "application/json")
	if cl.in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if cl.idempotent {
		req = transport.Idempotent(req)
	}
	resp, err := s.HTTP.Do(req)
	if err != nil {
		return nil, connector.TransportError(ctx, err, "Salesforce")
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return resp.Header, classify(resp, s)
	}
	if cl.out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return resp.Header, nil
	}
	if err := json.NewDecoder(resp.Body).Decode(cl.out); err != nil {
		return resp.Header, &connector.Error{Class: connector.ClassUnknown, Status: resp.StatusCode, Message: "Salesforce sent a response Patchbay cannot read", Err: err}
	}
	return resp.Header, nil
}

// classify turns an error answer into a *connector.Error from its status and
// Salesforce's error array.
func classify(resp *http.Response, s connector.Session) error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var errs []apiError
	_ = json.Unmarshal(raw, &errs)
	ce := &connector.Error{Class: connector.ClassForStatus(resp.StatusCode), Status: resp.StatusCode}
	if len(errs) > 0 {
		ce.Code, ce.Message = errs[0].code(), errs[0].Message
	} else {
		var oe struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		_ = json.Unmarshal(raw, &oe)
		ce.Code, ce.Message = oe.Error, oe.Description
	}
	if ce.Message == "" {
		ce.Message = http.StatusText(resp.StatusCode)
	}
	ce.Class = classFor(resp.StatusCode, ce.Code)
	if ce.Class == connector.ClassRateLimited {
		ce.RetryAfter = transport.RetryAfter(resp.Header, time.Hour)
	}
	ce.Message = redact(ce.Message, s.Creds)
	return ce
}

// classFor refines the status class by Salesforce's error code.
func classFor(status int, code string) connector.Class {
	switch code {
	case "REQUEST_LIMIT_EXCEEDED":
		return connector.ClassRateLimited // a 403, but the daily allocation is spent, not a permission missing
	case "INVALID_SESSION_ID":
		return connector.ClassUnauthorized
	case "ENTITY_IS_DELETED", "NOT_FOUND", "INVALID_CROSS_REFERENCE_KEY":
		return connector.ClassNotFound
	case "ORG_LOCKED", "ORG_SUSPENDED", "FUNCTIONALITY_NOT_ENABLED":
		return connector.ClassSuspended
	case "INSUFFICIENT_ACCESS", "INSUFFICIENT_ACCESS_OR_READONLY", "API_DISABLED_FOR_ORG", "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY":
		return connector.ClassForbidden
	}
	if status < 300 {
		return connector.ClassInvalid // a per-record failure of a collection
	}
	return connector.ClassForStatus(status)
}

// redact keeps credentials out of messages that are shown to people.
func redact(msg string, creds connector.Credentials) string {
	for _, secret := range []string{creds.AccessToken, creds.RefreshToken} {
		if len(secret) >= 8 {
			msg = strings.ReplaceAll(msg, secret, "[redacted]")
		}
	}
	return msg
}

// invalid builds a classified error for problems found before any request.
func invalid(format string, args ...any) error {
	return &connector.Error{Class: connector.ClassInvalid, Message: fmt.Sprintf(format, args...)}
}
