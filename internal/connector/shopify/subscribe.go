package shopify

import (
	"context"
	"fmt"
	"strings"
	"time"

	"patchbay/internal/connector"
)

// Change notifications: webhook subscriptions made with the GraphQL Admin
// API's webhookSubscriptionCreate, one per topic of an object (create and
// update), delivered as JSON and signed like every Shopify webhook
// (X-Shopify-Hmac-Sha256 with the app's client secret).

var _ connector.Subscriber = (*Connector)(nil)
var _ connector.NotificationVerifier = (*Connector)(nil)

// objectTopics are the topics whose webhooks mean "records of this object changed".
var objectTopics = map[string][]string{
	"customers": {"CUSTOMERS_CREATE", "CUSTOMERS_UPDATE"},
	"orders":    {"ORDERS_CREATE", "ORDERS_UPDATED"},
	"products":  {"PRODUCTS_CREATE", "PRODUCTS_UPDATE"},
}

// MaxNotificationAge is how old X-Shopify-Triggered-At may be. Shopify
// retries a failed delivery for 4 hours with the same webhook id; Patchbay
// keeps delivery ids for a day, so an older one could only be a replay.
const MaxNotificationAge = 24 * time.Hour

// Realtime: Shopify posts webhooks; Patchbay polls every 5 minutes besides.
func (c *Connector) Realtime() connector.Realtime {
	return connector.Realtime{Method: connector.RealtimeWebhook,
		Description:   "Shopify posts a webhook to Patchbay when a record is created or updated; Patchbay then reads the changes. It also checks every 5 minutes in case a webhook was lost.",
		ExpectedDelay: 5 * time.Second, PollInterval: 5 * time.Minute}
}

const createSubscription = `mutation webhookSubscriptionCreate($topic: WebhookSubscriptionTopic!, $webhookSubscription: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) { webhookSubscription { id topic } userErrors { field message } }
}`

const deleteSubscription = `mutation webhookSubscriptionDelete($id: ID!) {
  webhookSubscriptionDelete(id: $id) { deletedWebhookSubscriptionId userErrors { field message } }
}`

const getSubscription = `query webhookSubscription($id: ID!) { webhookSubscription(id: $id) { id topic } }`

type userError struct {
	Field   []string `json:"field"`
	Message string   `json:"message"`
}

// Subscribe creates one webhook subscription per topic of the object.
func (c *Connector) Subscribe(ctx context.Context, s connector.Session, req connector.SubscribeRequest) (connector.Subscription, error) {
	topics, ok := objectTopics[req.Object]
	if !ok {
		return connector.Subscription{}, &connector.Error{Class: connector.ClassInvalid, Message: "Shopify sends no webhooks for " + req.Object}
	}
	var ids []string
	for _, t := range topics {
		var out struct {
			Create struct {
				Sub *struct {
					ID string `json:"id"`
				} `json:"webhookSubscription"`
				UserErrors []userError `json:"userErrors"`
			} `json:"webhookSubscriptionCreate"`
		}
		vars := map[string]any{"topic": t, "webhookSubscription": map[string]any{"callbackUrl": req.CallbackURL, "format": "JSON"}}
		err := c.query(ctx, s, 10, createSubscription, vars, &out)
		if err == nil && (out.Create.Sub == nil || len(out.Create.UserErrors) > 0) {
			err = userErrorsOf("webhookSubscriptionCreate "+t, out.Create.UserErrors)
		}
		if err != nil {
			// Leave nothing half-made behind.
			_ = c.Unsubscribe(ctx, s, connector.Subscription{ID: strings.Join(ids, ",")})
			return connector.Subscription{}, err
		}
		ids = append(ids, out.Create.Sub.ID)
	}
	return connector.Subscription{ID: strings.Join(ids, ","), Object: req.Object}, nil
}

// Unsubscribe deletes the subscription's topics; one already gone is fine.
func (c *Connector) Unsubscribe(ctx context.Context, s connector.Session, sub connector.Subscription) error {
	for _, id := range splitIDs(sub.ID) {
		var out struct {
			Delete struct {
				UserErrors []userError `json:"userErrors"`
			} `json:"webhookSubscriptionDelete"`
		}
		if err := c.query(ctx, s, 10, deleteSubscription, map[string]any{"id": id}, &out); err != nil {
			return err
		}
		for _, e := range out.Delete.UserErrors {
			if !strings.Contains(strings.ToLower(e.Message), "does not exist") {
				return userErrorsOf("webhookSubscriptionDelete", out.Delete.UserErrors)
			}
		}
	}
	return nil
}

// Check asks for each topic's subscription; Shopify deletes one whose
// deliveries kept failing. Shopify subscriptions do not expire.
func (c *Connector) Check(ctx context.Context, s connector.Session, sub connector.Subscription, _ time.Time) (connector.Subscription, error) {
	for _, id := range splitIDs(sub.ID) {
		var out struct {
			Sub *struct {
				ID string `json:"id"`
			} `json:"webhookSubscription"`
		}
		if err := c.query(ctx, s, 1, getSubscription, map[string]any{"id": id}, &out); err != nil {
			return sub, err
		}
		if out.Sub == nil {
			return sub, fmt.Errorf("%w: Shopify has no webhook subscription %s (it deletes those whose deliveries keep failing)", connector.ErrSubscriptionGone, id)
		}
	}
	return sub, nil
}

// VerifyNotification checks the HMAC with the app's client secret and that
// the delivery is recent; the delivery id
// is X-Shopify-Webhook-Id, the same across Shopify's retries.
func (c *Connector) VerifyNotification(d connector.Delivery, _ connector.Subscription, secret string, now time.Time) (connector.Notification, error) {
	if d.Method != "POST" {
		return connector.Notification{}, fmt.Errorf("Shopify posts webhooks; this was a %s", d.Method)
	}
	if secret == "" {
		return connector.Notification{}, fmt.Errorf("this server has no Shopify client secret to check the signature with")
	}
	if _, err := c.VerifyWebhook(d.Header, d.Body, secret); err != nil {
		return connector.Notification{}, err
	}
	id := d.Header.Get("X-Shopify-Webhook-Id")
	if id == "" {
		return connector.Notification{}, fmt.Errorf("the webhook carries no X-Shopify-Webhook-Id")
	}
	at, err := time.Parse(time.RFC3339Nano, d.Header.Get("X-Shopify-Triggered-At"))
	if err != nil {
		return connector.Notification{}, fmt.Errorf("the webhook carries no valid X-Shopify-Triggered-At")
	}
	if age := now.Sub(at); age > MaxNotificationAge {
		return connector.Notification{}, fmt.Errorf("the webhook was triggered %s ago: a replay", age.Round(time.Minute))
	}
	return connector.Notification{ID: id, FiredAt: at}, nil
}

func splitIDs(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func userErrorsOf(op string, errs []userError) error {
	msgs := make([]string, 0, len(errs))
	for _, e := range errs {
		msgs = append(msgs, e.Message)
	}
	if len(msgs) == 0 {
		msgs = append(msgs, "no subscription returned")
	}
	return &connector.Error{Class: connector.ClassInvalid, Message: fmt.Sprintf("Shopify refused %s: %s", op, strings.Join(msgs, "; "))}
}
