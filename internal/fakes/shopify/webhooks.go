package shopify

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vektah/gqlparser/v2/ast"

	"patchbay/internal/fakes/fakekit"
)

// Webhook subscriptions made through the GraphQL Admin API
// (webhookSubscriptionCreate / webhookSubscriptionDelete, and the
// webhookSubscription(s) queries). A record change fires the subscribed
// topics: Shopify's REST-shaped JSON body, signed with the app's client
// secret in X-Shopify-Hmac-Sha256, with X-Shopify-Topic, -Shop-Domain,
// -API-Version, -Webhook-Id (the same on every retry), -Event-Id and
// -Triggered-At. Failed deliveries are retried; a delivery that fails every
// retry deletes the subscription, as Shopify deletes an Admin API
// subscription after repeated failures.

// topicObjects are the topics the fake fires, by object and kind of change.
var topicObjects = map[string]struct{ object, change string }{
	"CUSTOMERS_CREATE": {"customers", "create"}, "CUSTOMERS_UPDATE": {"customers", "update"}, "CUSTOMERS_DELETE": {"customers", "delete"},
	"ORDERS_CREATE": {"orders", "create"}, "ORDERS_UPDATED": {"orders", "update"}, "ORDERS_DELETE": {"orders", "delete"},
	"PRODUCTS_CREATE": {"products", "create"}, "PRODUCTS_UPDATE": {"products", "update"}, "PRODUCTS_DELETE": {"products", "delete"},
}

type webhookSub struct {
	id, shop, topic, callback string
	created                   time.Time
}

type webhookState struct {
	mu      sync.Mutex
	next    int64
	subs    map[string]*webhookSub // by numeric id
	deliver *fakekit.Deliverer
	events  int64
}

func newWebhookState(o Options) *webhookState {
	return &webhookState{next: 1000, subs: map[string]*webhookSub{}, deliver: fakekit.NewDeliverer(o.HTTP, o.RetryWaits)}
}

// webhookField runs the webhook fields of a query or mutation; ok is false
// for other fields.
func (x *exec) webhookField(fld *ast.Field) (any, bool) {
	h := x.f.hooks
	switch fld.Name {
	case "webhookSubscriptionCreate":
		return x.webhookCreate(h, fld), true
	case "webhookSubscriptionDelete":
		raw, _ := x.arg(fld, "id")
		id := strings.TrimPrefix(fmt.Sprint(raw), "gid://shopify/WebhookSubscription/")
		h.mu.Lock()
		s, ok := h.subs[id]
		if ok && s.shop == x.call.Account {
			delete(h.subs, id)
		}
		h.mu.Unlock()
		payload := map[string]any{"deletedWebhookSubscriptionId": nil, "userErrors": []any{}}
		if ok && s.shop == x.call.Account {
			payload["deletedWebhookSubscriptionId"] = gid("WebhookSubscription", id)
		} else {
			payload["userErrors"] = []any{map[string]any{"field": []string{"id"}, "message": "Webhook subscription does not exist"}}
		}
		return x.projectOrErr(payload, fld, "WebhookSubscriptionDeletePayload"), true
	case "webhookSubscription":
		if x.mutation {
			return nil, false
		}
		raw, _ := x.arg(fld, "id")
		id := strings.TrimPrefix(fmt.Sprint(raw), "gid://shopify/WebhookSubscription/")
		h.mu.Lock()
		s, ok := h.subs[id]
		h.mu.Unlock()
		if !ok || s.shop != x.call.Account {
			return nil, true
		}
		x.actual++
		return x.projectOrErr(renderSub(s), fld, "WebhookSubscription"), true
	}
	return nil, false
}

func (x *exec) webhookCreate(h *webhookState, fld *ast.Field) any {
	topic, _ := x.arg(fld, "topic")
	raw, _ := x.arg(fld, "webhookSubscription")
	in, _ := raw.(map[string]any)
	var userErrors []any
	uerr := func(field, msg string) {
		userErrors = append(userErrors, map[string]any{"field": []string{"webhookSubscription", field}, "message": msg})
	}
	t, _ := topic.(string)
	if _, ok := topicObjects[t]; !ok {
		x.errs = append(x.errs, errorWith("argumentLiteralsIncompatible", fmt.Sprintf("Argument 'topic' on Field 'webhookSubscriptionCreate' has an invalid value (%v). Expected type 'WebhookSubscriptionTopic!'.", topic), fld.Name))
		return nil
	}
	cb, _ := in["callbackUrl"].(string)
	if u, err := url.Parse(cb); cb == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		uerr("callbackUrl", "Address is invalid")
	}
	if need := readScope[topicObjects[t].object]; !hasScope(x.call, need) {
		uerr("topic", fmt.Sprintf("Access denied for %s: the %s access scope is required", t, need))
	}
	payload := map[string]any{"webhookSubscription": nil, "userErrors": []any{}}
	if len(userErrors) == 0 {
		h.mu.Lock()
		for _, s := range h.subs {
			if s.shop == x.call.Account && s.topic == t && s.callback == cb {
				userErrors = append(userErrors, map[string]any{"field": []string{"webhookSubscription", "callbackUrl"}, "message": "Address for this topic has already been taken"})
			}
		}
		if len(userErrors) == 0 {
			h.next++
			s := &webhookSub{id: strconv.FormatInt(h.next, 10), shop: x.call.Account, topic: t, callback: cb, created: x.f.kit.Now()}
			h.subs[s.id] = s
			payload["webhookSubscription"] = renderSub(s)
		}
		h.mu.Unlock()
	}
	if len(userErrors) > 0 {
		payload["userErrors"] = userErrors
	}
	x.actual += 10
	return x.projectOrErr(payload, fld, "WebhookSubscriptionCreatePayload")
}

func renderSub(s *webhookSub) map[string]any {
	return map[string]any{"__typename": "WebhookSubscription", "id": gid("WebhookSubscription", s.id), "topic": s.topic,
		"callbackUrl": s.callback, "uri": s.callback, "format": "JSON", "createdAt": s.created.UTC().Format(time.RFC3339),
		"endpoint": map[string]any{"__typename": "WebhookHttpEndpoint", "callbackUrl": s.callback}}
}

func (x *exec) projectOrErr(v any, fld *ast.Field, typ string) any {
	out, err := project(v, fld.SelectionSet, typ)
	if err != nil {
		x.errs = append(x.errs, errorWith("undefinedField", err.Error(), fld.Name))
		return nil
	}
	return out
}

// onChange fires the subscribed topics for changed records.
func (f *Fake) onChange(shop, object string, changes []fakekit.Change) {
	h := f.hooks
	h.mu.Lock()
	var subs []*webhookSub
	for _, s := range h.subs {
		if s.shop == shop && topicObjects[s.topic].object == object {
			subs = append(subs, s)
		}
	}
	h.mu.Unlock()
	if len(subs) == 0 {
		return
	}
	slices.SortFunc(subs, func(a, b *webhookSub) int { return strings.Compare(a.id, b.id) })
	for _, ch := range changes {
		change := "update"
		switch {
		case ch.Deleted:
			change = "delete"
		case ch.Created:
			change = "create"
		}
		for _, s := range subs {
			if topicObjects[s.topic].change != change {
				continue
			}
			f.sendTopic(h, s, object, ch)
		}
	}
}

func (f *Fake) sendTopic(h *webhookState, s *webhookSub, object string, ch fakekit.Change) {
	body, _ := json.Marshal(restShape(object, ch))
	h.mu.Lock()
	h.events++
	event := h.events
	h.mu.Unlock()
	topic := strings.ToLower(strings.Replace(s.topic, "_", "/", 1))
	header := http.Header{}
	header.Set("Content-Type", "application/json")
	header.Set("X-Shopify-Topic", topic)
	header.Set("X-Shopify-Shop-Domain", s.shop)
	header.Set("X-Shopify-API-Version", APIVersion)
	header.Set("X-Shopify-Webhook-Id", fakekit.CorrelationID())
	header.Set("X-Shopify-Event-Id", strconv.FormatInt(event, 10))
	header.Set("X-Shopify-Triggered-At", f.kit.Now().UTC().Format(time.RFC3339Nano))
	header.Set("X-Shopify-Hmac-Sha256", SignWebhook(body, f.o.ClientSecret))
	h.deliver.Send(fakekit.Hook{URL: s.callback, Header: header, Body: body, Done: func(delivered bool) {
		if delivered {
			f.mu.Lock()
			f.cost.Webhooks++
			f.mu.Unlock()
			return
		}
		h.mu.Lock()
		delete(h.subs, s.id) // failed every retry: Shopify removes the subscription
		h.mu.Unlock()
	}})
}

// restShape is a record as Shopify's webhook bodies carry it: the REST
// resource, snake_case, numeric id.
func restShape(object string, ch fakekit.Change) map[string]any {
	id, _ := strconv.ParseInt(ch.Record.ID, 10, 64)
	out := map[string]any{"id": id, "admin_graphql_api_id": gid(map[string]string{"customers": "Customer", "orders": "Order", "products": "Product"}[object], ch.Record.ID),
		"created_at": ch.Record.CreatedAt.UTC().Format(time.RFC3339), "updated_at": ch.Record.UpdatedAt.UTC().Format(time.RFC3339)}
	if ch.Deleted {
		return map[string]any{"id": id}
	}
	for k, v := range ch.Record.Fields {
		out[snake(k)] = v
	}
	return out
}

func snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// WebhookStats are the fake's webhook subscriptions and deliveries.
type WebhookStats struct {
	Subscriptions []map[string]any      `json:"subscriptions"`
	Deliveries    fakekit.DeliveryStats `json:"deliveries"`
}

// Webhooks returns the subscriptions and delivery counters.
func (f *Fake) Webhooks() WebhookStats {
	h := f.hooks
	h.mu.Lock()
	out := WebhookStats{Subscriptions: []map[string]any{}}
	for _, s := range h.subs {
		m := renderSub(s)
		m["shop"] = s.shop
		out.Subscriptions = append(out.Subscriptions, m)
	}
	h.mu.Unlock()
	slices.SortFunc(out.Subscriptions, func(a, b map[string]any) int { return strings.Compare(a["id"].(string), b["id"].(string)) })
	out.Deliveries = h.deliver.Stats()
	return out
}

// DropWebhooks deletes a shop's subscriptions, as Shopify does after
// deliveries kept failing.
func (f *Fake) DropWebhooks(shop string) int {
	h := f.hooks
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for id, s := range h.subs {
		if s.shop == shop {
			delete(h.subs, id)
			n++
		}
	}
	return n
}

// WaitWebhooks returns once every delivery sent so far has ended (tests).
func (f *Fake) WaitWebhooks() { f.hooks.deliver.Wait() }

func (f *Fake) webhookRoutes() {
	f.mux.HandleFunc("GET /_control/webhooks", func(w http.ResponseWriter, r *http.Request) {
		fakekit.WriteJSON(w, http.StatusOK, f.Webhooks())
	})
	// drop: {"account"} deletes the shop's subscriptions as Shopify does
	// after failed deliveries.
	f.mux.HandleFunc("POST /_control/webhooks/drop", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Account string `json:"account"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			fakekit.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		if in.Account == "" {
			in.Account = f.kit.DefaultAccount()
		}
		fakekit.WriteJSON(w, http.StatusOK, map[string]int{"dropped": f.DropWebhooks(in.Account)})
	})
}
