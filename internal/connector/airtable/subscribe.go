package airtable

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"patchbay/internal/connector"
)

// Change notifications: the webhooks API. A webhook per synced table
// (recordChangeScope, dataTypes tableData) pings Patchbay with a body that
// carries no change, signed with the webhook's own MAC secret
// (X-Airtable-Content-MAC: hmac-sha256=<hex>); Patchbay then reads the
// payloads from its cursor, which also keeps the webhook alive, and re-reads
// the records. A webhook expires 7 days after creation or its last refresh:
// the check refreshes it a day ahead. Needs the webhook:manage scope.

var (
	_ connector.Subscriber           = (*Connector)(nil)
	_ connector.NotificationVerifier = (*Connector)(nil)
	_ connector.PayloadFetcher       = (*Connector)(nil)
)

// MaxNotificationAge is how old a ping's timestamp may be; Patchbay keeps
// delivery ids for a day, so an older one could only be a replay.
const MaxNotificationAge = 24 * time.Hour

// Realtime: Airtable pings; Patchbay polls every 5 minutes besides.
func (c *Connector) Realtime() connector.Realtime {
	return connector.Realtime{Method: connector.RealtimeWebhook,
		Description:   "Airtable pings Patchbay when records of the table change; Patchbay then reads the change list and the records. It also checks every 5 minutes in case a ping was lost.",
		ExpectedDelay: 5 * time.Second, PollInterval: 5 * time.Minute}
}

// tableID resolves a table name to its id (webhooks take ids only).
func (c *Connector) tableID(ctx context.Context, s connector.Session, base, tbl string) (string, error) {
	if strings.HasPrefix(tbl, "tbl") {
		return tbl, nil
	}
	var out struct {
		Tables []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"tables"`
	}
	if err := c.do(ctx, s, call{method: http.MethodGet, base: base, path: "/v0/meta/bases/" + base + "/tables", out: &out, idempotent: true}); err != nil {
		return "", err
	}
	for _, t := range out.Tables {
		if strings.EqualFold(t.Name, tbl) {
			return t.ID, nil
		}
	}
	return "", &connector.Error{Class: connector.ClassNotFound, Message: fmt.Sprintf("base %s has no table %q", base, tbl)}
}

// Subscribe creates a webhook on the table; the subscription id is
// "<base id>/<webhook id>" and its secret the MAC secret.
func (c *Connector) Subscribe(ctx context.Context, s connector.Session, req connector.SubscribeRequest) (connector.Subscription, error) {
	base, tbl, err := table(s, req.Object)
	if err != nil {
		return connector.Subscription{}, err
	}
	id, err := c.tableID(ctx, s, base, tbl)
	if err != nil {
		return connector.Subscription{}, err
	}
	in := map[string]any{"notificationUrl": req.CallbackURL, "specification": map[string]any{"options": map[string]any{
		"filters": map[string]any{"dataTypes": []string{"tableData"}, "recordChangeScope": id}}}}
	var out struct {
		ID              string `json:"id"`
		MACSecretBase64 string `json:"macSecretBase64"`
		ExpirationTime  string `json:"expirationTime"`
	}
	if err := c.do(ctx, s, call{method: http.MethodPost, base: base, path: "/v0/bases/" + base + "/webhooks", in: in, out: &out}); err != nil {
		return connector.Subscription{}, err
	}
	exp, _ := time.Parse(time.RFC3339Nano, out.ExpirationTime)
	return connector.Subscription{ID: base + "/" + out.ID, Object: req.Object, Secret: out.MACSecretBase64, ExpiresAt: exp, Cursor: "1"}, nil
}

func splitID(id string) (base, hook string, err error) {
	base, hook, ok := strings.Cut(id, "/")
	if !ok || !basePattern.MatchString(base) || hook == "" {
		return "", "", fmt.Errorf("airtable: bad subscription id %q", id)
	}
	return base, hook, nil
}

// Unsubscribe deletes the webhook; one already gone is fine.
func (c *Connector) Unsubscribe(ctx context.Context, s connector.Session, sub connector.Subscription) error {
	base, hook, err := splitID(sub.ID)
	if err != nil {
		return err
	}
	err = c.do(ctx, s, call{method: http.MethodDelete, base: base, path: "/v0/bases/" + base + "/webhooks/" + url.PathEscape(hook)})
	if connector.ClassOf(err) == connector.ClassNotFound {
		return nil
	}
	return err
}

// Check finds the webhook among the base's: gone or disabled (expired) is
// ErrSubscriptionGone; one expiring before renewBefore is refreshed.
func (c *Connector) Check(ctx context.Context, s connector.Session, sub connector.Subscription, renewBefore time.Time) (connector.Subscription, error) {
	base, hook, err := splitID(sub.ID)
	if err != nil {
		return sub, err
	}
	var out struct {
		Webhooks []struct {
			ID             string `json:"id"`
			IsHookEnabled  bool   `json:"isHookEnabled"`
			ExpirationTime string `json:"expirationTime"`
		} `json:"webhooks"`
	}
	if err := c.do(ctx, s, call{method: http.MethodGet, base: base, path: "/v0/bases/" + base + "/webhooks", out: &out, idempotent: true}); err != nil {
		return sub, err
	}
	for _, h := range out.Webhooks {
		if h.ID != hook {
			continue
		}
		if !h.IsHookEnabled {
			return sub, fmt.Errorf("%w: Airtable disabled the webhook (it expired or its table is gone)", connector.ErrSubscriptionGone)
		}
		sub.ExpiresAt, _ = time.Parse(time.RFC3339Nano, h.ExpirationTime)
		if !sub.ExpiresAt.IsZero() && sub.ExpiresAt.Before(renewBefore) {
			var ref struct {
				ExpirationTime string `json:"expirationTime"`
			}
			if err := c.do(ctx, s, call{method: http.MethodPost, base: base, path: "/v0/bases/" + base + "/webhooks/" + url.PathEscape(hook) + "/refresh", out: &ref}); err != nil {
				return sub, err
			}
			sub.ExpiresAt, _ = time.Parse(time.RFC3339Nano, ref.ExpirationTime)
		}
		return sub, nil
	}
	return sub, fmt.Errorf("%w: the base has no such webhook any more", connector.ErrSubscriptionGone)
}

// VerifyNotification checks X-Airtable-Content-MAC with the webhook's MAC
// secret, that the ping names this webhook, and that it is recent. A ping is
// identified by its webhook and timestamp.
func (c *Connector) VerifyNotification(d connector.Delivery, sub connector.Subscription, _ string, now time.Time) (connector.Notification, error) {
	if d.Method != http.MethodPost {
		return connector.Notification{}, fmt.Errorf("Airtable posts pings; this was a %s", d.Method)
	}
	key, err := base64.StdEncoding.DecodeString(sub.Secret)
	if err != nil || len(key) == 0 {
		return connector.Notification{}, errors.New("the subscription has no MAC secret")
	}
	got, ok := strings.CutPrefix(d.Header.Get("X-Airtable-Content-MAC"), "hmac-sha256=")
	sig, derr := hex.DecodeString(got)
	m := hmac.New(sha256.New, key)
	m.Write(d.Body)
	if !ok || derr != nil || !hmac.Equal(sig, m.Sum(nil)) {
		return connector.Notification{}, errors.New("X-Airtable-Content-MAC does not match the body")
	}
	var ping struct {
		Webhook struct {
			ID string `json:"id"`
		} `json:"webhook"`
		Timestamp string `json:"timestamp"`
	}
	if err := json.Unmarshal(d.Body, &ping); err != nil {
		return connector.Notification{}, fmt.Errorf("the ping is not JSON: %w", err)
	}
	if _, hook, _ := strings.Cut(sub.ID, "/"); ping.Webhook.ID != hook {
		return connector.Notification{}, fmt.Errorf("the ping names webhook %q, not this subscription's", ping.Webhook.ID)
	}
	at, err := time.Parse(time.RFC3339Nano, ping.Timestamp)
	if err != nil {
		return connector.Notification{}, errors.New("the ping carries no valid timestamp")
	}
	if age := now.Sub(at); age > MaxNotificationAge {
		return connector.Notification{}, fmt.Errorf("the ping was sent %s ago: a replay", age.Round(time.Minute))
	}
	return connector.Notification{ID: ping.Webhook.ID + "@" + ping.Timestamp, FiredAt: at}, nil
}

// FetchPayloads reads the payloads after the cursor (Patchbay re-reads the
// records rather than trusting them) and returns the next cursor.
func (c *Connector) FetchPayloads(ctx context.Context, s connector.Session, sub connector.Subscription) (string, error) {
	base, hook, err := splitID(sub.ID)
	if err != nil {
		return sub.Cursor, err
	}
	cursor := sub.Cursor
	if cursor == "" {
		cursor = "1"
	}
	for range 100 { // 50 payloads a page; more than 5,000 waiting is left to the next ping
		var out struct {
			Cursor        int  `json:"cursor"`
			MightHaveMore bool `json:"mightHaveMore"`
		}
		if err := c.do(ctx, s, call{method: http.MethodGet, base: base, path: "/v0/bases/" + base + "/webhooks/" + url.PathEscape(hook) + "/payloads?cursor=" + url.QueryEscape(cursor), out: &out, idempotent: true}); err != nil {
			return cursor, err
		}
		cursor = strconv.Itoa(out.Cursor)
		if !out.MightHaveMore {
			break
		}
	}
	return cursor, nil
}
