// Package webhook is the connector of webhook destinations (Zapier, Make,
// Slack-style endpoints): an outbound sync's "write" POSTs each row as a
// signed JSON event to the connection's URL. There is nothing to read.
//
// Each request carries X-Patchbay-Timestamp and X-Patchbay-Signature
// (sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">, package signing) keyed
// with the connection's signing secret, which Patchbay generated at connect
// and keeps in the vault with the other credentials, plus X-Patchbay-Event
// and X-Patchbay-Delivery (the same across retries of one delivery, so a
// receiver can drop duplicates). The session's transport paces the POSTs,
// retries 429 and 5xx with backoff, and dials through the network guard.
package webhook

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"time"

	"patchbay/internal/connector"
	"patchbay/internal/signing"
	"patchbay/internal/transport"
)

// Event names.
const (
	EventRowCreated = "row.created" // the row was never delivered to this destination
	EventRowUpdated = "row.updated" // a row delivered before changed
)

// Event is the JSON body of one delivery.
type Event struct {
	Event   string         `json:"event"`
	TableID string         `json:"table_id"`
	RowID   string         `json:"row_id,omitempty"`
	Row     map[string]any `json:"row"` // the mapped fields: all of them on row.created, those that changed on row.updated
	SentAt  time.Time      `json:"sent_at"`
}

// Connector posts events. Its zero value is not usable; call New.
type Connector struct {
	now func() time.Time
}

// New returns a webhook connector.
func New() *Connector { return &Connector{now: time.Now} }

var _ connector.Connector = (*Connector)(nil)

// Identity names the destination's host; it calls nothing, since a receiver
// has no account to ask about (and a test POST would be an event).
func (c *Connector) Identity(_ context.Context, s connector.Session) (connector.Account, error) {
	u, err := url.Parse(s.BaseURL)
	if err != nil || u.Host == "" {
		return connector.Account{}, &connector.Error{Class: connector.ClassInvalid, Message: "the destination URL is not an absolute http(s) URL"}
	}
	return connector.Account{ID: u.Host, Name: u.Host}, nil
}

// List refuses: a destination only receives.
func (c *Connector) List(context.Context, connector.Session, connector.ListRequest) (connector.Page, error) {
	return connector.Page{}, &connector.Error{Class: connector.ClassInvalid, Message: "a webhook destination receives rows and has nothing to read; use it in outbound syncs"}
}

// Write delivers one event per record, in order. A record with an ID was
// delivered before (row.updated); the others are row.created, and their ID
// becomes the row's id so that later changes are updates. A receiver that
// refuses one event (400, 422) fails that row and the others go on; a
// failure of the destination itself (unreachable, 5xx or 429 after the
// transport's retries, 401/403/404/410) stops the batch with what was
// delivered so far.
func (c *Connector) Write(ctx context.Context, s connector.Session, req connector.WriteRequest) ([]connector.WriteResult, error) {
	secret := s.Creds.Extra[connector.SigningSecretKey]
	if secret == "" {
		return nil, &connector.Error{Class: connector.ClassUnauthorized, Message: "the connection has no signing secret; disconnect it and connect the destination again"}
	}
	results := make([]connector.WriteResult, 0, len(req.Records))
	for i, rec := range req.Records {
		ev := Event{Event: EventRowUpdated, TableID: req.Table, Row: rec.Fields, SentAt: c.now().UTC()}
		if i < len(req.RowIDs) {
			ev.RowID = req.RowIDs[i]
		}
		id := rec.ID
		if id == "" {
			ev.Event, id = EventRowCreated, ev.RowID
		}
		if ev.Row == nil {
			ev.Row = map[string]any{}
		}
		delivery := "dlv_" + rand.Text()
		if id == "" {
			id = delivery
		}
		err := c.post(ctx, s, []byte(secret), ev, delivery)
		var ce *connector.Error
		if errors.As(err, &ce) && ce.Class == connector.ClassInvalid {
			results = append(results, connector.WriteResult{Index: i, Err: err})
			continue
		}
		if err != nil {
			return results, err
		}
		results = append(results, connector.WriteResult{Index: i, ID: id, Created: ev.Event == EventRowCreated})
	}
	return results, nil
}

func (c *Connector) post(ctx context.Context, s connector.Session, secret []byte, ev Event, delivery string) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return &connector.Error{Class: connector.ClassInvalid, Message: "cannot encode the event: " + err.Error()}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.BaseURL, bytes.NewReader(body))
	if err != nil {
		return &connector.Error{Class: connector.ClassInvalid, Message: "the destination URL is not a valid URL"}
	}
	// Signed once: retries resend the same timestamp and delivery id, so a
	// receiver sees one delivery however often it arrives.
	signing.SetHeaders(req.Header, secret, c.now().Unix(), body, ev.Event, delivery)
	resp, err := s.HTTP.Do(transport.Idempotent(req))
	if err != nil {
		return transportError(ctx, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 300 {
		return nil
	}
	ce := &connector.Error{Class: connector.ClassForStatus(resp.StatusCode), Status: resp.StatusCode,
		Message: "the destination answered " + http.StatusText(resp.StatusCode)}
	switch resp.StatusCode {
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		ce.Class = connector.ClassInvalid // this event; the next may pass
	case http.StatusGone:
		ce.Class = connector.ClassNotFound // Zapier's answer for a deleted hook
	case http.StatusTooManyRequests:
		ce.RetryAfter = transport.RetryAfter(resp.Header, 0)
	}
	if ce.Class == connector.ClassInvalid && resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusUnprocessableEntity {
		ce.Class = connector.ClassUnknown // other 4xx: the destination's, not the row's
	}
	return ce
}

// transportError drops the *url.Error wrapper of http.Client, whose text
// repeats the URL (a Slack hook's path is its secret).
func transportError(ctx context.Context, err error) error {
	err = connector.TransportError(ctx, err, "the destination")
	var ce *connector.Error
	if errors.As(err, &ce) {
		ce.Message = "the destination could not be reached" // also for failures the transport classified
	}
	return err
}
