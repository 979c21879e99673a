package hubspot

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"patchbay/internal/connector"
)

// Webhook request headers (HubSpot's v3 signature).
const (
	SignatureHeader = "X-HubSpot-Signature-v3"
	TimestampHeader = "X-HubSpot-Request-Timestamp"
	// MaxWebhookAge is how old a signed request may be (HubSpot: 5 minutes).
	MaxWebhookAge = 5 * time.Minute
)

// ErrBadSignature says a webhook request is not HubSpot's.
var ErrBadSignature = errors.New("the request's HubSpot signature does not verify")

// Sign computes the v3 signature: base64 of HMAC-SHA256, keyed with the app's
// client secret, over method + URI + body + timestamp. The URI is the full
// URL the request was sent to, with percent-encoded characters decoded.
func Sign(secret, method, uri string, body []byte, timestamp string) string {
	if u, err := url.PathUnescape(uri); err == nil {
		uri = u
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(method + uri))
	m.Write(body)
	m.Write([]byte(timestamp))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// VerifyWebhook checks a webhook request's v3 signature (in constant time)
// and that its timestamp is within MaxWebhookAge of now.
func VerifyWebhook(secret, method, uri string, body []byte, signature, timestamp string, now time.Time) error {
	ms, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: no valid %s", ErrBadSignature, TimestampHeader)
	}
	if age := now.Sub(time.UnixMilli(ms)); age > MaxWebhookAge || age < -MaxWebhookAge {
		return fmt.Errorf("%w: the timestamp is %s away from now (at most %s)", ErrBadSignature, age.Round(time.Second), MaxWebhookAge)
	}
	want := Sign(secret, method, uri, body, timestamp)
	if secret == "" || !hmac.Equal([]byte(want), []byte(signature)) {
		return ErrBadSignature
	}
	return nil
}

// WebhookEvent is one of HubSpot's webhook events.
type WebhookEvent struct {
	EventID          int64  `json:"eventId"`
	SubscriptionID   int64  `json:"subscriptionId"`
	PortalID         int64  `json:"portalId"`
	AppID            int64  `json:"appId"`
	OccurredAt       int64  `json:"occurredAt"`
	SubscriptionType string `json:"subscriptionType"` // contact.creation, contact.propertyChange, company.deletion…
	AttemptNumber    int    `json:"attemptNumber"`
	ObjectID         int64  `json:"objectId"`
	PropertyName     string `json:"propertyName,omitempty"`
	PropertyValue    string `json:"propertyValue,omitempty"`
	ChangeSource     string `json:"changeSource,omitempty"`
}

// ParseWebhook reads a webhook body (a JSON array of events) into
// provider-neutral changes: which account's which object changed.
func ParseWebhook(body []byte) ([]connector.Change, error) {
	var events []WebhookEvent
	if err := json.Unmarshal(body, &events); err != nil {
		return nil, fmt.Errorf("a HubSpot webhook body is a JSON array of events: %w", err)
	}
	out := make([]connector.Change, 0, len(events))
	for _, ev := range events {
		kind, _, _ := strings.Cut(ev.SubscriptionType, ".")
		object := map[string]string{"contact": "contacts", "company": "companies", "deal": "deals"}[kind]
		if object == "" || ev.PortalID == 0 {
			continue
		}
		out = append(out, connector.Change{Account: strconv.FormatInt(ev.PortalID, 10), Object: object, ID: strconv.FormatInt(ev.ObjectID, 10)})
	}
	return out, nil
}
