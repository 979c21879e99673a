package airtable

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"patchbay/internal/fakes/fakekit"
)

// The webhooks API (/v0/bases/{baseId}/webhooks): a webhook watches a base
// (optionally one table, recordChangeScope) and, on a change, posts a thin
// ping — {"base":{"id"},"webhook":{"id"},"timestamp"} signed in
// X-Airtable-Content-MAC with the webhook's MAC secret — to its
// notificationUrl. The changes themselves are read from
// GET …/webhooks/{id}/payloads from a cursor. A webhook expires 7 days after
// it was made or last refreshed (POST …/refresh, or a payloads read);
// expired, it is disabled and sends nothing. Failed pings are retried.

// WebhookLifetime is how long a webhook lives without a refresh.
const WebhookLifetime = 7 * 24 * time.Hour

type payload struct {
	Timestamp string         `json:"timestamp"`
	Txn       int            `json:"baseTransactionNumber"`
	Format    string         `json:"payloadFormat"`
	Action    map[string]any `json:"actionMetadata"`
	Changed   map[string]any `json:"changedTablesById"`
}

type atWebhook struct {
	ID, Account, Base, URL, Table string
	Secret                        []byte
	Created, Expires, LastOK      time.Time
	Payloads                      []payload // payload n has cursor n+1
}

type webhookState struct {
	mu      sync.Mutex
	hooks   map[string]*atWebhook
	deliver *fakekit.Deliverer
}

func (f *Fake) webhookRoutes() {
	f.mux.HandleFunc("POST /v0/bases/{base}/webhooks", f.api("webhook:manage", f.createWebhook))
	f.mux.HandleFunc("GET /v0/bases/{base}/webhooks", f.api("webhook:manage", f.listWebhooks))
	f.mux.HandleFunc("DELETE /v0/bases/{base}/webhooks/{id}", f.api("webhook:manage", func(w http.ResponseWriter, r *http.Request, c fakekit.Call, base string) {
		if h, ok := f.webhook(w, r, c, base); ok {
			f.hooks.mu.Lock()
			delete(f.hooks.hooks, h.ID)
			f.hooks.mu.Unlock()
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	f.mux.HandleFunc("POST /v0/bases/{base}/webhooks/{id}/refresh", f.api("webhook:manage", func(w http.ResponseWriter, r *http.Request, c fakekit.Call, base string) {
		if h, ok := f.webhook(w, r, c, base); ok {
			f.hooks.mu.Lock()
			if !f.expired(h) {
				h.Expires = f.kit.Now().Add(WebhookLifetime)
			}
			exp := h.Expires
			f.hooks.mu.Unlock()
			fakekit.WriteJSON(w, http.StatusOK, map[string]any{"expirationTime": exp.UTC().Format(time.RFC3339Nano)})
		}
	}))
	f.mux.HandleFunc("GET /v0/bases/{base}/webhooks/{id}/payloads", f.api("webhook:manage", f.payloads))
	f.mux.HandleFunc("GET /_control/webhooks", func(w http.ResponseWriter, r *http.Request) {
		out := []map[string]any{}
		for _, h := range f.Webhooks("") {
			m := f.renderWebhook(h)
			m["account"], m["base"] = h.Account, h.Base
			out = append(out, m)
		}
		fakekit.WriteJSON(w, http.StatusOK, map[string]any{"webhooks": out, "deliveries": f.hooks.deliver.Stats()})
	})
}

func (f *Fake) expired(h *atWebhook) bool { return !f.kit.Now().Before(h.Expires) }

func (f *Fake) webhook(w http.ResponseWriter, r *http.Request, c fakekit.Call, base string) (*atWebhook, bool) {
	f.hooks.mu.Lock()
	h, ok := f.hooks.hooks[r.PathValue("id")]
	f.hooks.mu.Unlock()
	if !ok || h.Account != c.Account || h.Base != base {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "Could not find what you are looking for")
		return nil, false
	}
	return h, true
}

func (f *Fake) createWebhook(w http.ResponseWriter, r *http.Request, c fakekit.Call, base string) {
	var in struct {
		NotificationURL string `json:"notificationUrl"`
		Specification   struct {
			Options struct {
				Filters struct {
					DataTypes         []string `json:"dataTypes"`
					RecordChangeScope string   `json:"recordChangeScope"`
				} `json:"filters"`
			} `json:"options"`
		} `json:"specification"`
	}
	if err := decodeJSON(r, &in); err != nil {
		invalidRequest(w, "Could not parse the request body: "+err.Error())
		return
	}
	flt := in.Specification.Options.Filters
	if len(flt.DataTypes) == 0 {
		invalidRequest(w, "specification.options.filters.dataTypes must name at least one of tableData, tableFields, tableMetadata")
		return
	}
	if slices.Contains(flt.DataTypes, "tableData") && !c.HasScope("data.records:read") {
		forbidden(w)
		return
	}
	if t := flt.RecordChangeScope; t != "" {
		if _, ok := f.lookupTable(c.Account, base, t); !ok || !strings.HasPrefix(t, "tbl") {
			invalidRequest(w, "recordChangeScope must be the id of a table of the base")
			return
		}
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	now := f.kit.Now()
	h := &atWebhook{ID: idOf("ach", hex.EncodeToString(secret[:8])), Account: c.Account, Base: base, URL: in.NotificationURL,
		Table: flt.RecordChangeScope, Secret: secret, Created: now, Expires: now.Add(WebhookLifetime)}
	f.hooks.mu.Lock()
	f.hooks.hooks[h.ID] = h
	f.hooks.mu.Unlock()
	fakekit.WriteJSON(w, http.StatusOK, map[string]any{"id": h.ID, "macSecretBase64": base64.StdEncoding.EncodeToString(secret),
		"expirationTime": h.Expires.UTC().Format(time.RFC3339Nano)})
}

func (f *Fake) renderWebhook(h *atWebhook) map[string]any {
	filters := map[string]any{"dataTypes": []string{"tableData"}}
	if h.Table != "" {
		filters["recordChangeScope"] = h.Table
	}
	var last any
	if !h.LastOK.IsZero() {
		last = h.LastOK.UTC().Format(time.RFC3339Nano)
	}
	enabled := !f.expired(h)
	return map[string]any{"id": h.ID, "areNotificationsEnabled": h.URL != "" && enabled, "cursorForNextPayload": len(h.Payloads) + 1,
		"isHookEnabled": enabled, "lastSuccessfulNotificationTime": last, "notificationUrl": h.URL,
		"expirationTime": h.Expires.UTC().Format(time.RFC3339Nano), "specification": map[string]any{"options": map[string]any{"filters": filters}}}
}

func (f *Fake) listWebhooks(w http.ResponseWriter, _ *http.Request, c fakekit.Call, base string) {
	out := []map[string]any{}
	f.hooks.mu.Lock()
	for _, h := range f.sortedLocked(c.Account) {
		if h.Base == base {
			out = append(out, f.renderWebhook(h))
		}
	}
	f.hooks.mu.Unlock()
	fakekit.WriteJSON(w, http.StatusOK, map[string]any{"webhooks": out})
}

// payloads lists payloads from cursor (default 1), at most limit (≤ 50);
// reading them extends an active webhook's life by 7 days.
func (f *Fake) payloads(w http.ResponseWriter, r *http.Request, c fakekit.Call, base string) {
	h, ok := f.webhook(w, r, c, base)
	if !ok {
		return
	}
	cursor, limit := 1, 50
	if v := r.URL.Query().Get("cursor"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			invalidRequest(w, "cursor must be a positive number")
			return
		}
		cursor = n
	}
	if v := r.URL.Query().Get("limit"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 1 && n <= 50 {
			limit = n
		}
	}
	f.hooks.mu.Lock()
	if !f.expired(h) {
		h.Expires = f.kit.Now().Add(WebhookLifetime)
	}
	out := []payload{}
	next := cursor
	for i := cursor - 1; i >= 0 && i < len(h.Payloads) && len(out) < limit; i++ {
		out = append(out, h.Payloads[i])
		next = i + 2
	}
	more := next <= len(h.Payloads)
	f.hooks.mu.Unlock()
	fakekit.WriteJSON(w, http.StatusOK, map[string]any{"payloads": out, "cursor": next, "mightHaveMore": more})
}

// Webhooks returns an account's webhooks ("" for every account).
func (f *Fake) Webhooks(account string) []*atWebhook {
	f.hooks.mu.Lock()
	defer f.hooks.mu.Unlock()
	return f.sortedLocked(account)
}

func (f *Fake) sortedLocked(account string) []*atWebhook {
	var out []*atWebhook
	for _, h := range f.hooks.hooks {
		if account == "" || h.Account == account {
			out = append(out, h)
		}
	}
	slices.SortFunc(out, func(a, b *atWebhook) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// WebhookExpires returns when a webhook expires (tests).
func (f *Fake) WebhookExpires(id string) time.Time {
	f.hooks.mu.Lock()
	defer f.hooks.mu.Unlock()
	if h, ok := f.hooks.hooks[id]; ok {
		return h.Expires
	}
	return time.Time{}
}

// SignPing is X-Airtable-Content-MAC for a notification body.
func SignPing(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "hmac-sha256=" + hex.EncodeToString(m.Sum(nil))
}

// onChange records a payload on each webhook watching the table and pings it.
func (f *Fake) onChange(account, object string, changes []fakekit.Change) {
	base, tableName, ok := strings.Cut(object, "/")
	if !ok {
		return
	}
	tbl := tableID(base, tableName)
	now := f.kit.Now()
	created, changed, destroyed := map[string]any{}, map[string]any{}, []string{}
	for _, ch := range changes {
		id := RecordID(ch.Record.ID)
		cells := map[string]any{}
		for _, name := range ch.Fields {
			cells[fieldID(base, tableName, name)] = decodeValue(ch.Record.Fields[name])
		}
		switch {
		case ch.Deleted:
			destroyed = append(destroyed, id)
		case ch.Created:
			created[id] = map[string]any{"createdTime": ch.Record.CreatedAt.UTC().Format(time.RFC3339Nano), "cellValuesByFieldId": cells}
		default:
			changed[id] = map[string]any{"current": map[string]any{"cellValuesByFieldId": cells}}
		}
	}
	tableChange := map[string]any{}
	if len(created) > 0 {
		tableChange["createdRecordsById"] = created
	}
	if len(changed) > 0 {
		tableChange["changedRecordsById"] = changed
	}
	if len(destroyed) > 0 {
		tableChange["destroyedRecordIds"] = destroyed
	}
	f.hooks.mu.Lock()
	var pings []fakekit.Hook
	for _, h := range f.sortedLocked(account) {
		if h.Base != base || (h.Table != "" && h.Table != tbl) || f.expired(h) {
			continue
		}
		h.Payloads = append(h.Payloads, payload{Timestamp: now.UTC().Format(time.RFC3339Nano), Txn: len(h.Payloads) + 1, Format: "v0",
			Action: map[string]any{"source": "client", "sourceMetadata": map[string]any{}}, Changed: map[string]any{tbl: tableChange}})
		if h.URL == "" {
			continue
		}
		body, _ := json.Marshal(map[string]any{"base": map[string]string{"id": base}, "webhook": map[string]string{"id": h.ID},
			"timestamp": now.UTC().Format(time.RFC3339Nano)})
		hook := h
		pings = append(pings, fakekit.Hook{URL: h.URL, Body: body, Header: http.Header{"Content-Type": {"application/json"},
			"X-Airtable-Content-Mac": {SignPing(h.Secret, body)}}, Done: func(ok bool) {
			if ok {
				f.hooks.mu.Lock()
				hook.LastOK = f.kit.Now()
				f.hooks.mu.Unlock()
			}
		}})
	}
	f.hooks.mu.Unlock()
	for _, p := range pings {
		f.hooks.deliver.Send(p)
	}
}
