// Package mailchimp is Patchbay's client of Mailchimp's Marketing API (3.0).
// One connector serves both catalog entries: "mailchimp" (OAuth 2; the
// metadata call names the account's data centre) and "mailchimp_key" (API
// keys of the form <key>-<dc>, the data centre after the dash). Either way the
// data centre decides the API host, https://<dc>.api.mailchimp.com/3.0: the
// catalog's API URL holds a {dc} placeholder that Identity fills and returns
// as Account.Endpoint, which the connection keeps.
//
// It reads audiences (lists), members (offset paging, up to 1000 a page,
// incremental by last_changed), merge fields and tags; it adds new members
// (POST /lists/{id}/members) and updates known ones on their subscriber hash
// (PATCH /lists/{id}/members/{md5}), small writes as parallel calls and large
// ones as batch operations (POST /batches). Mailchimp allows 10 simultaneous connections per account: the
// catalog's rate_limit.concurrency makes the transport hold to that, and the
// connector never starts more than 10 calls at once itself.
package mailchimp

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

	"patchbay/internal/connector"
	"patchbay/internal/transport"
)

// Mailchimp's documented limits.
const (
	maxCount       = 1000 // records per page
	maxConnections = 10   // simultaneous connections per account
)

var dcPattern = regexp.MustCompile(`^[a-z]+[0-9]+$`)

// Connector is Mailchimp's API client; one value serves every connection.
type Connector struct {
	// DirectMax is the largest write sent as individual calls; larger writes
	// go as one batch operation. Default 10.
	DirectMax int
	// PollInterval is the longest wait between two reads of a batch's
	// status (the first read comes sooner). Default 2 s.
	PollInterval time.Duration
	// Download fetches batch results from their pre-signed link, which must
	// not carry Mailchimp credentials. Default: a client with a 2 min timeout.
	Download *http.Client
}

var _ connector.Connector = (*Connector)(nil)

// New returns the Mailchimp connector.
func New() *Connector {
	return &Connector{DirectMax: 10, PollInterval: 2 * time.Second, Download: &http.Client{Timeout: 2 * time.Minute}}
}

// Identity finds the account's data centre (from the API key, or from the
// OAuth metadata call) and reads the API root: account id, name and the
// e-mail of the login. The returned Endpoint is the account's API base.
func (c *Connector) Identity(ctx context.Context, s connector.Session) (connector.Account, error) {
	base := strings.TrimRight(s.BaseURL, "/")
	var acct connector.Account
	if strings.Contains(base, "{dc}") || s.Creds.APIKey != "" {
		dc, name, err := c.dataCenter(ctx, s)
		if err != nil {
			return connector.Account{}, err
		}
		base = strings.ReplaceAll(base, "{dc}", dc)
		acct.Name = name
	}
	var root struct {
		AccountID   string `json:"account_id"`
		AccountName string `json:"account_name"`
		Email       string `json:"email"`
	}
	if err := c.do(ctx, s, base, call{method: http.MethodGet, path: "/", out: &root}); err != nil {
		return connector.Account{}, err
	}
	if root.AccountID == "" {
		return connector.Account{}, &connector.Error{Class: connector.ClassUnknown, Message: "Mailchimp's API root named no account"}
	}
	acct.ID, acct.Email, acct.Endpoint = root.AccountID, root.Email, base
	if root.AccountName != "" {
		acct.Name = root.AccountName
	}
	return acct, nil
}

// dataCenter reads the data centre from an API key's suffix or, for OAuth
// tokens, from the metadata endpoint.
func (c *Connector) dataCenter(ctx context.Context, s connector.Session) (dc, account string, err error) {
	if key := s.Creds.APIKey; key != "" {
		i := strings.LastIndexByte(key, '-')
		if i < 0 || !dcPattern.MatchString(key[i+1:]) {
			return "", "", &connector.Error{Class: connector.ClassUnauthorized, Code: "API Key Invalid",
				Message: "a Mailchimp API key ends with its data centre, like 0123abcd…-us6; copy the whole key from Account → Extras → API keys"}
		}
		return key[i+1:], "", nil
	}
	if s.IdentityURL == "" {
		return "", "", &connector.Error{Class: connector.ClassInvalid, Message: "no Mailchimp metadata URL to find the data centre"}
	}
	var meta struct {
		DC          string `json:"dc"`
		AccountName string `json:"accountname"`
	}
	if err := c.do(ctx, s, "", call{method: http.MethodGet, url: s.IdentityURL, out: &meta}); err != nil {
		return "", "", err
	}
	if !dcPattern.MatchString(meta.DC) {
		return "", "", &connector.Error{Class: connector.ClassUnknown, Message: "Mailchimp's metadata named no valid data centre"}
	}
	return meta.DC, meta.AccountName, nil
}

// SubscriberHash is a member's id at Mailchimp: the MD5 of the lowercased address.
func SubscriberHash(email string) string {
	sum := md5.Sum([]byte(strings.ToLower(strings.TrimSpace(email))))
	return hex.EncodeToString(sum[:])
}

// call is one request to Mailchimp.
type call struct {
	method, path string
	url          string // absolute URL instead of base+path (the metadata call)
	in, out      any
}

// problemBody is Mailchimp's error document.
type problemBody struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail"`
	Instance string `json:"instance"`
	Errors   []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
	// OAuth endpoints answer RFC 6749 errors instead.
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

func (c *Connector) do(ctx context.Context, s connector.Session, base string, cl call) error {
	var body io.Reader
	if cl.in != nil {
		b, err := json.Marshal(cl.in)
		if err != nil {
			return &connector.Error{Class: connector.ClassInvalid, Message: "cannot encode the request: " + err.Error()}
		}
		body = bytes.NewReader(b)
	}
	u := cl.url
	if u == "" {
		if base == "" {
			base = strings.TrimRight(s.BaseURL, "/")
		}
		u = base + cl.path
	}
	if strings.Contains(u, "{dc}") {
		return &connector.Error{Class: connector.ClassInvalid, Message: "the Mailchimp data centre is not known yet; test or reconnect the connection"}
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, u, body)
	if err != nil {
		return &connector.Error{Class: connector.ClassInvalid, Message: "bad Mailchimp URL"}
	}
	req.Header.Set("Accept", "application/json")
	if cl.in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.HTTP.Do(req)
	if err != nil {
		return connector.TransportError(ctx, err, "Mailchimp")
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return classify(resp.StatusCode, resp.Header, raw, s.Creds)
	}
	if cl.out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(cl.out); err != nil {
		return &connector.Error{Class: connector.ClassUnknown, Status: resp.StatusCode, Message: "Mailchimp sent a response Patchbay cannot read", Err: err}
	}
	return nil
}

// classify turns an error answer into a *connector.Error: the status gives
// the class, the problem's title the code, its detail and field errors the
// message. A disabled or suspended account is a suspension, not a missing
// permission.
func classify(status int, h http.Header, raw []byte, creds connector.Credentials) *connector.Error {
	var pb problemBody
	_ = json.Unmarshal(raw, &pb)
	ce := &connector.Error{Class: connector.ClassForStatus(status), Status: status, Code: pb.Title, Message: pb.Detail}
	if ce.Code == "" {
		ce.Code, ce.Message = pb.Error, pb.ErrorDescription
	}
	if ce.Message == "" {
		ce.Message = http.StatusText(status)
	}
	for _, e := range pb.Errors {
		ce.Message += " " + e.Field + ": " + e.Message
	}
	switch {
	case status == http.StatusUnauthorized && creds.AccessToken != "":
		// OAuth tokens never expire at Mailchimp: a refused one was revoked.
		ce.Class = connector.ClassRevoked
	case status == http.StatusForbidden && (strings.Contains(pb.Title, "Disabled") || strings.Contains(pb.Title, "Suspended")):
		ce.Class = connector.ClassSuspended
	case status == http.StatusTooManyRequests:
		ce.RetryAfter = transport.RetryAfter(h, 0)
	}
	ce.Message = redact(ce.Message, creds)
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
