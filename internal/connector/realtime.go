package connector

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// Realtime methods: how a provider tells Patchbay that records changed.
const (
	// RealtimeWebhook: the provider posts a notification per change to a URL
	// Patchbay subscribed through the provider's API.
	RealtimeWebhook = "webhook"
	// RealtimeAppWebhook: the provider posts notifications to the URL set in
	// the app's developer settings (HubSpot), not per connection.
	RealtimeAppWebhook = "app_webhook"
	// RealtimePoll: the provider offers no notifications Patchbay can use;
	// "realtime" is an incremental poll every PollInterval.
	RealtimePoll = "poll"
)

// Realtime says what "realtime" means for a provider, in the words the
// dashboard and the API show.
type Realtime struct {
	Method string
	// Description is one sentence for people: what triggers a run.
	Description string
	// ExpectedDelay is the usual time from a change at the provider to its
	// row in the table.
	ExpectedDelay time.Duration
	// PollInterval is how often realtime syncs poll: the fallback beside
	// notifications, or the whole mechanism for RealtimePoll.
	PollInterval time.Duration
}

// RealtimeDescriber is implemented by connectors whose realtime differs from
// the default (a poll every 5 minutes and no notifications).
type RealtimeDescriber interface {
	Realtime() Realtime
}

// DefaultRealtime is what realtime means for a connector that says nothing.
var DefaultRealtime = Realtime{Method: RealtimePoll, Description: "Patchbay checks for changes every 5 minutes (this provider sends no change notifications Patchbay can subscribe to).",
	ExpectedDelay: 5 * time.Minute, PollInterval: 5 * time.Minute}

// RealtimeOf returns what realtime means for a connector.
func RealtimeOf(c Connector) Realtime {
	if d, ok := c.(RealtimeDescriber); ok {
		return d.Realtime()
	}
	return DefaultRealtime
}

// SubscribeRequest asks a provider to notify Patchbay of changes to one object.
type SubscribeRequest struct {
	Object string
	// CallbackURL is where the provider posts; it carries a secret of its own
	// (providers that do not sign, like Mailchimp, are verified by it).
	CallbackURL string
}

// Subscription is a provider-side change subscription Patchbay created.
type Subscription struct {
	// ID is the provider's id of the subscription (or of several, joined by
	// commas, when one object needs one per topic).
	ID     string
	Object string
	// Secret is what the provider gave to verify its notifications
	// (Airtable's MAC secret); "" when the provider signs with the app's
	// client secret or not at all. Stored sealed.
	Secret string
	// ExpiresAt is when the provider drops the subscription unless renewed;
	// zero: it does not expire.
	ExpiresAt time.Time
	// Cursor is the provider's read position of notification payloads
	// (Airtable), "" for providers that push everything in the notification.
	Cursor string
}

// ErrSubscriptionGone says the provider no longer has a subscription (it was
// deleted, disabled after failed deliveries, or expired).
var ErrSubscriptionGone = errors.New("the provider no longer has this subscription")

// Subscriber is implemented by connectors whose provider offers change
// notifications through its API.
type Subscriber interface {
	// Subscribe creates the subscription at the provider.
	Subscribe(ctx context.Context, s Session, req SubscribeRequest) (Subscription, error)
	// Unsubscribe deletes it; one the provider no longer has is not an error.
	Unsubscribe(ctx context.Context, s Session, sub Subscription) error
	// Check asks the provider whether the subscription still exists and is
	// enabled (ErrSubscriptionGone otherwise), renews it when it expires
	// before renewBefore, and returns it as it is now.
	Check(ctx context.Context, s Session, sub Subscription, renewBefore time.Time) (Subscription, error)
}

// Delivery is one notification request as Patchbay received it.
type Delivery struct {
	Method string
	// URL is the full URL the provider posted to.
	URL    string
	Header http.Header
	Body   []byte
}

// Notification is what a verified delivery says.
type Notification struct {
	// ID identifies the delivery across the provider's retries, for dropping
	// duplicates ("" when the provider gives none).
	ID string
	// FiredAt is when the provider says the change happened (zero: unknown).
	FiredAt time.Time
	// Empty is a provider's check of the URL (Mailchimp's validation request)
	// that reports no change.
	Empty bool
}

// ErrNotificationRefused says a delivery does not verify: a wrong or missing
// signature, or a timestamp too old to be anything but a replay.
var ErrNotificationRefused = errors.New("the notification does not verify")

// NotificationVerifier is implemented by Subscribers: it checks a delivery
// with the subscription's secret or the app's client secret.
type NotificationVerifier interface {
	VerifyNotification(d Delivery, sub Subscription, clientSecret string, now time.Time) (Notification, error)
}

// PayloadFetcher is implemented by connectors whose notifications carry no
// change (Airtable's ping): after a ping, the payloads are read from the
// subscription's cursor, which advances. Patchbay re-reads the records
// anyway; reading the payloads keeps the provider's queue short and the
// subscription alive.
type PayloadFetcher interface {
	FetchPayloads(ctx context.Context, s Session, sub Subscription) (cursor string, err error)
}
