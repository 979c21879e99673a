package hubspot

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"patchbay/internal/fakes/fakekit"
)

// webhooks is the fake's app webhook settings: one target URL for the app
// and the subscribed event types, as in HubSpot's developer account.
type webhooks struct {
	mu            sync.Mutex
	target        string
	subscriptions []string
	client        *http.Client
	nextEvent     atomic.Int64
	sent, failed  atomic.Int64
}

// subscriptionTypes are the CRM object events the fake can send.
var subscriptionTypes = []string{"contact.creation", "contact.propertyChange", "contact.deletion",
	"company.creation", "company.propertyChange", "company.deletion"}

// SetWebhooks sets the app's target URL and subscriptions (nil: all of them);
// an empty target turns webhooks off.
func (f *Fake) SetWebhooks(target string, subscriptions []string) {
	if subscriptions == nil {
		subscriptions = subscriptionTypes
	}
	f.hooks.mu.Lock()
	f.hooks.target, f.hooks.subscriptions = target, slices.Clone(subscriptions)
	f.hooks.mu.Unlock()
}

func (f *Fake) webhookRoutes() {
	f.mux.HandleFunc("POST /_control/webhooks", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			TargetURL     string   `json:"target_url"`
			Subscriptions []string `json:"subscriptions"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			validationError(w, "body: "+err.Error(), nil)
			return
		}
		if body.TargetURL != "" {
			if u, err := url.Parse(body.TargetURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
				validationError(w, "target_url must be an http(s) URL", nil)
				return
			}
		}
		for _, s := range body.Subscriptions {
			if !slices.Contains(subscriptionTypes, s) {
				validationError(w, "unknown subscription type "+s, nil)
				return
			}
		}
		f.SetWebhooks(body.TargetURL, body.Subscriptions)
		f.writeWebhookState(w)
	})
	f.mux.HandleFunc("GET /_control/webhooks", func(w http.ResponseWriter, r *http.Request) { f.writeWebhookState(w) })
}

func (f *Fake) writeWebhookState(w http.ResponseWriter) {
	f.hooks.mu.Lock()
	defer f.hooks.mu.Unlock()
	fakekit.WriteJSON(w, http.StatusOK, map[string]any{"target_url": f.hooks.target, "subscriptions": f.hooks.subscriptions,
		"sent": f.hooks.sent.Load(), "failed": f.hooks.failed.Load()})
}

// onChange turns record changes into webhook events and delivers them at
// once, signed with the app's client secret (v3 signature). Delivery is
// synchronous so that tests see the event land before the write answers.
func (f *Fake) onChange(account, object string, changes []fakekit.Change) {
	f.hooks.mu.Lock()
	target, subs := f.hooks.target, f.hooks.subscriptions
	f.hooks.mu.Unlock()
	if target == "" {
		return
	}
	kind := map[string]string{"contacts": "contact", "companies": "company"}[object]
	var events []map[string]any
	now := time.Now().UnixMilli()
	add := func(typ string, ch fakekit.Change, prop string) {
		if !slices.Contains(subs, typ) {
			return
		}
		id, _ := strconv.ParseInt(ch.Record.ID, 10, 64)
		ev := map[string]any{"eventId": f.hooks.nextEvent.Add(1), "subscriptionId": 1, "portalId": HubID(account), "appId": f.appID,
			"occurredAt": now, "subscriptionType": typ, "attemptNumber": 0, "objectId": id, "changeSource": "CRM"}
		if prop != "" {
			ev["propertyName"], ev["propertyValue"] = prop, ch.Record.Fields[prop]
		}
		events = append(events, ev)
	}
	for _, ch := range changes {
		switch {
		case ch.Deleted:
			add(kind+".deletion", ch, "")
		case ch.Created:
			add(kind+".creation", ch, "")
		default:
			for _, p := range ch.Fields {
				add(kind+".propertyChange", ch, p)
			}
		}
	}
	if len(events) == 0 {
		return
	}
	body, _ := json.Marshal(events)
	ts := strconv.FormatInt(now, 10)
	req, err := http.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		f.hooks.failed.Add(1)
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-HubSpot-Request-Timestamp", ts)
	req.Header.Set("X-HubSpot-Signature-v3", signV3(f.o.ClientSecret, http.MethodPost, target, body, ts))
	resp, err := f.hooks.client.Do(req)
	if err != nil {
		f.hooks.failed.Add(1)
		return
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		f.hooks.failed.Add(1)
		return
	}
	f.hooks.sent.Add(1)
}

// signV3 is HubSpot's X-HubSpot-Signature-v3: base64(HMAC-SHA256(client
// secret, method + URI + body + timestamp)).
func signV3(secret, method, uri string, body []byte, ts string) string {
	if u, err := url.PathUnescape(uri); err == nil {
		uri = u
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(method + uri))
	m.Write(body)
	m.Write([]byte(ts))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}
