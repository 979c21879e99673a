// Package hubspot is Patchbay's HubSpot API client: token metadata for the
// account behind a connection, the CRM v3 objects API for reading (list, or
// search for incremental reads) and writing (batch create, update, upsert),
// and refresh-token revocation. Authentication, the request budget, retries
// and refresh-on-401 are the Session's HTTP client's business.
package hubspot

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"patchbay/internal/connector"
	"patchbay/internal/transport"
)

// HubSpot's documented sizes.
const (
	batchSize   = 100 // inputs per batch call
	listMax     = 100 // records per page of GET /crm/v3/objects
	searchMax   = 200 // records per page of a search
	searchDepth = 10_000
)

// Connector is HubSpot's API client. It holds no per-connection state; one
// value serves every connection.
type Connector struct {
	// searchDepth is how many results one search can page through; beyond
	// it the connector restarts the search from the last record.
	searchDepth int
}

var (
	_ connector.Connector = (*Connector)(nil)
	_ connector.Revoker   = (*Connector)(nil)
)

// New returns the HubSpot connector.
func New() *Connector { return &Connector{searchDepth: searchDepth} }

// Identity reads the metadata of the session's access token: the portal
// (hub id), its domain, the user who approved the app and the granted scopes.
func (c *Connector) Identity(ctx context.Context, s connector.Session) (connector.Account, error) {
	if s.Creds.AccessToken == "" {
		return connector.Account{}, &connector.Error{Class: connector.ClassUnauthorized, Message: "the connection has no access token"}
	}
	var info struct {
		User      string   `json:"user"`
		HubDomain string   `json:"hub_domain"`
		HubID     int64    `json:"hub_id"`
		Scopes    []string `json:"scopes"`
	}
	// HubSpot takes the token in the path here; errors never repeat the URL.
	err := c.do(ctx, s, call{method: http.MethodGet, path: "/oauth/v1/access-tokens/" + url.PathEscape(s.Creds.AccessToken), out: &info})
	if err != nil {
		return connector.Account{}, err
	}
	return connector.Account{ID: strconv.FormatInt(info.HubID, 10), Name: info.HubDomain, Email: info.User, Scopes: info.Scopes}, nil
}

// Revoke deletes the connection's refresh token at HubSpot. Access tokens
// already issued live on until they expire (at most 30 minutes); HubSpot
// offers no way to end them sooner.
func (c *Connector) Revoke(ctx context.Context, s connector.Session) error {
	if s.Creds.RefreshToken == "" {
		return nil
	}
	err := c.do(ctx, s, call{method: http.MethodDelete, path: "/oauth/v1/refresh-tokens/" + url.PathEscape(s.Creds.RefreshToken)})
	if connector.ClassOf(err) == connector.ClassNotFound {
		return nil // already gone: the goal of revoking is reached
	}
	return err
}

// call is one request to HubSpot.
type call struct {
	method, path string
	in, out      any
	idempotent   bool       // safe to retry after a 5xx (searches, updates, upserts)
	errBody      *errorBody // when set, receives HubSpot's error body
	// budget is the key of the further limit the call spends (catalog
	// rate_limit.keyed: "search" for the CRM search endpoints).
	budget string
}

// errorBody is HubSpot's error JSON, plus the RFC 6749 fields of the OAuth
// endpoints. Every field is optional: HubSpot's shapes vary by API.
type errorBody struct {
	Status   string         `json:"status"`
	Message  string         `json:"message"`
	Category string         `json:"category"`
	Context  map[string]any `json:"context"`
	Errors   []struct {
		Message string         `json:"message"`
		Context map[string]any `json:"context"`
	} `json:"errors"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// maxResponse bounds what Patchbay reads of one answer (a batch of 100
// records is far below it), so a broken or hostile endpoint cannot exhaust memory.
const maxResponse = 32 << 20

func (c *Connector) do(ctx context.Context, s connector.Session, cl call) error {
	var body io.Reader
	if cl.in != nil {
		b, err := json.Marshal(cl.in)
		if err != nil {
			return &connector.Error{Class: connector.ClassInvalid, Message: "cannot encode the request: " + err.Error()}
		}
		body = bytes.NewReader(b) // a bytes.Reader lets the transport replay the body on retries
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, strings.TrimRight(s.BaseURL, "/")+cl.path, body)
	if err != nil {
		return &connector.Error{Class: connector.ClassInvalid, Message: "bad HubSpot base URL"}
	}
	req.Header.Set("Accept", "application/json")
	if cl.in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if cl.idempotent {
		req = transport.Idempotent(req)
	}
	if cl.budget != "" {
		req = transport.WithBudgetKey(req, cl.budget)
	}
	resp, err := s.HTTP.Do(req)
	if err != nil {
		return connector.TransportError(ctx, err, "HubSpot")
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return classify(resp, s, cl.errBody)
	}
	if cl.out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponse)).Decode(cl.out); err != nil {
		return &connector.Error{Class: connector.ClassUnknown, Status: resp.StatusCode, Message: "HubSpot sent a response Patchbay cannot read", Err: err}
	}
	return nil
}

// classify turns an error answer into a *connector.Error from its status and
// HubSpot's body: the category becomes the code, a missing scope is named,
// validation details are added to the message.
func classify(resp *http.Response, s connector.Session, into *errorBody) error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var eb errorBody
	_ = json.Unmarshal(raw, &eb)
	if into != nil {
		*into = eb
	}
	ce := &connector.Error{Class: connector.ClassForStatus(resp.StatusCode), Status: resp.StatusCode, Code: eb.Category, Message: eb.Message}
	if ce.Code == "" && eb.Status != "" && eb.Status != "error" {
		ce.Code = eb.Status // the token endpoints put their code here (BAD_REFRESH_TOKEN)
	}
	if ce.Code == "" {
		ce.Code = eb.Error
	}
	if ce.Message == "" {
		ce.Message = eb.ErrorDescription
	}
	if ce.Message == "" {
		ce.Message = http.StatusText(resp.StatusCode)
	}
	switch {
	case resp.StatusCode == http.StatusForbidden:
		ce.Scope = missingScope(eb)
	case resp.StatusCode == http.StatusTooManyRequests:
		ce.RetryAfter = transport.RetryAfter(resp.Header, 0)
	case resp.StatusCode == http.StatusBadRequest && len(eb.Errors) > 0:
		details := make([]string, 0, len(eb.Errors))
		for _, e := range eb.Errors {
			if e.Message != "" {
				details = append(details, e.Message)
			}
		}
		if len(details) > 0 {
			ce.Message += " " + strings.Join(details, " ")
		}
	}
	ce.Message = redact(ce.Message, s.Creds)
	return ce
}

// missingScope finds the scope a 403 names, wherever HubSpot put it.
func missingScope(eb errorBody) string {
	contexts := []map[string]any{eb.Context}
	for _, e := range eb.Errors {
		contexts = append(contexts, e.Context)
	}
	for _, ctx := range contexts {
		for _, key := range []string{"requiredGranularScopes", "missingScopes", "requiredScopes"} {
			if list, ok := ctx[key].([]any); ok && len(list) > 0 {
				if s, ok := list[0].(string); ok {
					return s
				}
			}
		}
	}
	return ""
}

// redact keeps credentials out of messages that are shown to people.
func redact(msg string, creds connector.Credentials) string {
	for _, secret := range []string{creds.AccessToken, creds.RefreshToken, creds.APIKey} {
		if len(secret) >= 8 {
			msg = strings.ReplaceAll(msg, secret, "[redacted]")
		}
	}
	return msg
}

// apiObject is HubSpot's SimplePublicObject.
type apiObject struct {
	ID                 string             `json:"id"`
	Properties         map[string]*string `json:"properties"`
	UpdatedAt          time.Time          `json:"updatedAt"`
	New                *bool              `json:"new"`
	ObjectWriteTraceID string             `json:"objectWriteTraceId"`
}

func (o apiObject) record() connector.Record {
	fields := make(map[string]any, len(o.Properties))
	for k, v := range o.Properties {
		if v == nil {
			fields[k] = nil
		} else {
			fields[k] = *v
		}
	}
	return connector.Record{ID: o.ID, Fields: fields, UpdatedAt: o.UpdatedAt}
}

// RequestsUsed reads how many requests HubSpot's rolling 10-second window
// holds from X-HubSpot-RateLimit-Max and -Remaining (connector.QuotaReader).
func (c *Connector) RequestsUsed(h http.Header) (int, bool) {
	limit, err1 := strconv.Atoi(h.Get("X-HubSpot-RateLimit-Max"))
	left, err2 := strconv.Atoi(h.Get("X-HubSpot-RateLimit-Remaining"))
	if err1 != nil || err2 != nil || limit <= 0 {
		return 0, false
	}
	return max(limit-left, 0), true
}
