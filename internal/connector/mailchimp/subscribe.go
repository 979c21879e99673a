package mailchimp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"patchbay/internal/connector"
)

// Change notifications: a list webhook on the connection's audience (POST
// /lists/{list_id}/webhooks) for subscribe, unsubscribe, profile, upemail
// and cleaned, from every source. Mailchimp does not sign its webhooks, so
// the secret is the URL Patchbay gives it (its last path segment); the body
// is form-encoded.

var _ connector.Subscriber = (*Connector)(nil)
var _ connector.NotificationVerifier = (*Connector)(nil)

// MaxNotificationAge is how old an event's fired_at may be; Patchbay keeps
// delivery ids for a day, so an older one could only be a replay.
const MaxNotificationAge = 24 * time.Hour

// Realtime: Mailchimp posts list webhooks; Patchbay polls every 5 minutes besides.
func (c *Connector) Realtime() connector.Realtime {
	return connector.Realtime{Method: connector.RealtimeWebhook,
		Description:   "Mailchimp posts a webhook to Patchbay when a member subscribes, unsubscribes, changes their profile or e-mail, or is cleaned; Patchbay then reads the changes. It also checks every 5 minutes in case a webhook was lost.",
		ExpectedDelay: 5 * time.Second, PollInterval: 5 * time.Minute}
}

type listWebhook struct {
	ID string `json:"id"`
}

// Subscribe creates a webhook on the audience. Mailchimp calls the URL
// before it answers, so Patchbay must be reachable from Mailchimp.
func (c *Connector) Subscribe(ctx context.Context, s connector.Session, req connector.SubscribeRequest) (connector.Subscription, error) {
	if req.Object != "members" {
		return connector.Subscription{}, &connector.Error{Class: connector.ClassInvalid, Message: "Mailchimp sends webhooks for members only, not " + req.Object}
	}
	list, err := c.audienceID(ctx, s)
	if err != nil {
		return connector.Subscription{}, err
	}
	in := map[string]any{"url": req.CallbackURL,
		"events":  map[string]bool{"subscribe": true, "unsubscribe": true, "profile": true, "cleaned": true, "upemail": true, "campaign": false},
		"sources": map[string]bool{"user": true, "admin": true, "api": true}}
	var out listWebhook
	if err := c.do(ctx, s, "", call{method: http.MethodPost, path: "/lists/" + url.PathEscape(list) + "/webhooks", in: in, out: &out}); err != nil {
		return connector.Subscription{}, err
	}
	return connector.Subscription{ID: list + "/" + out.ID, Object: req.Object}, nil
}

func splitID(id string) (list, hook string, err error) {
	list, hook, ok := strings.Cut(id, "/")
	if !ok || list == "" || hook == "" {
		return "", "", fmt.Errorf("mailchimp: bad subscription id %q", id)
	}
	return list, hook, nil
}

func (c *Connector) webhookPath(id string) (string, error) {
	list, hook, err := splitID(id)
	if err != nil {
		return "", err
	}
	return "/lists/" + url.PathEscape(list) + "/webhooks/" + url.PathEscape(hook), nil
}

// Unsubscribe deletes the webhook; one already gone is fine.
func (c *Connector) Unsubscribe(ctx context.Context, s connector.Session, sub connector.Subscription) error {
	p, err := c.webhookPath(sub.ID)
	if err != nil {
		return err
	}
	err = c.do(ctx, s, "", call{method: http.MethodDelete, path: p})
	if connector.ClassOf(err) == connector.ClassNotFound {
		return nil
	}
	return err
}

// Check reads the webhook; list webhooks do not expire.
func (c *Connector) Check(ctx context.Context, s connector.Session, sub connector.Subscription, _ time.Time) (connector.Subscription, error) {
	p, err := c.webhookPath(sub.ID)
	if err != nil {
		return sub, err
	}
	var out listWebhook
	err = c.do(ctx, s, "", call{method: http.MethodGet, path: p, out: &out})
	if connector.ClassOf(err) == connector.ClassNotFound {
		return sub, fmt.Errorf("%w: the audience has no such webhook any more (deleted in Mailchimp)", connector.ErrSubscriptionGone)
	}
	return sub, err
}

// VerifyNotification accepts Mailchimp's GET check of the URL (the URL's
// token was checked already) and form-encoded events with a known type and
// a recent fired_at. Mailchimp gives no delivery id; the body (event, time
// to the second, member) identifies a delivery and its retries.
func (c *Connector) VerifyNotification(d connector.Delivery, _ connector.Subscription, _ string, now time.Time) (connector.Notification, error) {
	if d.Method == http.MethodGet {
		return connector.Notification{Empty: true}, nil
	}
	form, err := url.ParseQuery(string(d.Body))
	if err != nil {
		return connector.Notification{}, fmt.Errorf("the body is not form-encoded: %w", err)
	}
	switch form.Get("type") {
	case "subscribe", "unsubscribe", "profile", "upemail", "cleaned", "campaign":
	default:
		return connector.Notification{}, errors.New("the body names no Mailchimp webhook event type")
	}
	at, err := time.Parse("2006-01-02 15:04:05", form.Get("fired_at"))
	if err != nil {
		return connector.Notification{}, errors.New("the body carries no valid fired_at")
	}
	if age := now.Sub(at); age > MaxNotificationAge {
		return connector.Notification{}, fmt.Errorf("the event fired %s ago: a replay", age.Round(time.Minute))
	}
	sum := sha256.Sum256(d.Body)
	return connector.Notification{ID: hex.EncodeToString(sum[:]), FiredAt: at}, nil
}
