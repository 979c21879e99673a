// Package dataprovider is Patchbay's client for enrichment APIs that speak
// its generic data-provider protocol (docs/dataprovider.md): an API key as a
// bearer token, GET /v1/account to identify the key's account, POST
// /v1/lookup to look a company or person up. Such a provider holds no
// records to sync; action columns call Lookup.
package dataprovider

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"patchbay/internal/connector"
	"patchbay/internal/transport"
)

// Connector is the data-provider client. It holds no state.
type Connector struct{}

var _ connector.Connector = (*Connector)(nil)

// New returns the data-provider connector.
func New() *Connector { return &Connector{} }

// Identity returns the account the API key belongs to; it is how a key is
// validated before it is stored.
func (c *Connector) Identity(ctx context.Context, s connector.Session) (connector.Account, error) {
	var acct struct {
		ID    string `json:"id"`
		Name  string `json:"name"`
		Email string `json:"email"`
	}
	if err := c.do(ctx, s, http.MethodGet, "/v1/account", nil, &acct); err != nil {
		return connector.Account{}, err
	}
	if acct.ID == "" {
		return connector.Account{}, &connector.Error{Class: connector.ClassUnknown, Message: "the provider's /v1/account answer has no id; is the endpoint URL right?"}
	}
	return connector.Account{ID: acct.ID, Name: acct.Name, Email: acct.Email}, nil
}

// errNoRecords answers List and Write: the protocol has lookups, not records.
func errNoRecords() error {
	return &connector.Error{Class: connector.ClassInvalid,
		Message: "a data provider has no records to sync; use it from an action column to look records up"}
}

// List is not offered by data providers.
func (c *Connector) List(context.Context, connector.Session, connector.ListRequest) (connector.Page, error) {
	return connector.Page{}, errNoRecords()
}

// Write is not offered by data providers.
func (c *Connector) Write(context.Context, connector.Session, connector.WriteRequest) ([]connector.WriteResult, error) {
	return nil, errNoRecords()
}

// Lookup asks the provider one question, such as company_by_domain with
// input {"domain": "acme.com"}. found is false when the provider knows no
// answer, which is not an error.
func (c *Connector) Lookup(ctx context.Context, s connector.Session, lookup string, input map[string]string) (data map[string]any, found bool, err error) {
	var out struct {
		Found bool           `json:"found"`
		Data  map[string]any `json:"data"`
	}
	if err := c.do(ctx, s, http.MethodPost, "/v1/lookup", map[string]any{"lookup": lookup, "input": input}, &out); err != nil {
		return nil, false, err
	}
	if !out.Found {
		return nil, false, nil
	}
	if out.Data == nil {
		out.Data = map[string]any{} // "found" with no facts is an empty answer, not a nil map for callers to trip on
	}
	return out.Data, true, nil
}

func (c *Connector) do(ctx context.Context, s connector.Session, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return &connector.Error{Class: connector.ClassInvalid, Message: "cannot encode the request: " + err.Error()}
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(s.BaseURL, "/")+path, body)
	if err != nil {
		return &connector.Error{Class: connector.ClassInvalid, Message: "the endpoint URL is not a valid URL"}
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
		// A lookup only reads; repeating it after a 5xx costs at most a credit.
		req = transport.Idempotent(req)
	}
	resp, err := s.HTTP.Do(req)
	if err != nil {
		return connector.TransportError(ctx, err, "the data provider")
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return classify(resp, s.Creds)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(out); err != nil {
		return &connector.Error{Class: connector.ClassUnknown, Status: resp.StatusCode, Message: "the provider sent a response Patchbay cannot read; is the endpoint URL right?", Err: err}
	}
	return nil
}

// classify reads the protocol's error body {"error":{"code","message"}}.
func classify(resp *http.Response, creds connector.Credentials) error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var eb struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	_ = json.Unmarshal(raw, &eb)
	ce := &connector.Error{Class: connector.ClassForStatus(resp.StatusCode), Status: resp.StatusCode, Code: eb.Error.Code, Message: eb.Error.Message}
	switch resp.StatusCode {
	case http.StatusPaymentRequired:
		// Out of credits: the key is fine, the account may not do more.
		ce.Class = connector.ClassForbidden
	case http.StatusTooManyRequests:
		ce.RetryAfter = transport.RetryAfter(resp.Header, 0)
	}
	if ce.Message == "" {
		ce.Message = http.StatusText(resp.StatusCode)
	}
	for _, secret := range []string{creds.APIKey, creds.AccessToken} {
		if len(secret) >= 8 {
			ce.Message = strings.ReplaceAll(ce.Message, secret, "[redacted]")
		}
	}
	return ce
}
