package mailchimp

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"patchbay/internal/fakes/fakekit"
)

// List webhooks (POST/GET/DELETE /3.0/lists/{list}/webhooks): Mailchimp
// checks a new URL with a GET before it accepts it, then posts events about
// the audience's members as an application/x-www-form-urlencoded body
// (type, fired_at "2006-01-02 15:04:05", data[...]), unsigned: the URL is the
// only secret. Failed deliveries are retried.

// webhookEvents are the event flags of a list webhook.
var webhookEvents = []string{"subscribe", "unsubscribe", "profile", "cleaned", "upemail", "campaign"}

type listWebhook struct {
	ID, Account, ListID, URL string
	Events, Sources          map[string]bool
}

type webhookState struct {
	mu      sync.Mutex
	hooks   map[string]*listWebhook
	deliver *fakekit.Deliverer
}

func newWebhookState(o Options) *webhookState {
	return &webhookState{hooks: map[string]*listWebhook{}, deliver: fakekit.NewDeliverer(o.HTTP, o.RetryWaits)}
}

func (h *listWebhook) render() map[string]any {
	return map[string]any{"id": h.ID, "url": h.URL, "events": h.Events, "sources": h.Sources, "list_id": h.ListID}
}

func (f *Fake) webhookRoutes(api func(string, func(http.ResponseWriter, *http.Request, fakekit.Call))) {
	api("POST /lists/{list}/webhooks", f.createWebhook)
	api("GET /lists/{list}/webhooks", func(w http.ResponseWriter, r *http.Request, c fakekit.Call) {
		l, ok := f.list(w, r, c)
		if !ok {
			return
		}
		out := []map[string]any{}
		for _, h := range f.ListWebhooks(c.Account) {
			if h.ListID == l.ID {
				out = append(out, h.render())
			}
		}
		fakekit.WriteJSON(w, http.StatusOK, map[string]any{"webhooks": out, "list_id": l.ID, "total_items": len(out)})
	})
	api("GET /lists/{list}/webhooks/{id}", func(w http.ResponseWriter, r *http.Request, c fakekit.Call) {
		if h, ok := f.webhook(w, r, c); ok {
			fakekit.WriteJSON(w, http.StatusOK, h.render())
		}
	})
	api("DELETE /lists/{list}/webhooks/{id}", func(w http.ResponseWriter, r *http.Request, c fakekit.Call) {
		if h, ok := f.webhook(w, r, c); ok {
			f.hooks.mu.Lock()
			delete(f.hooks.hooks, h.ID)
			f.hooks.mu.Unlock()
			w.WriteHeader(http.StatusNoContent)
		}
	})
	f.mux.HandleFunc("GET /_control/webhooks", func(w http.ResponseWriter, r *http.Request) {
		out := []map[string]any{}
		for _, h := range f.ListWebhooks("") {
			m := h.render()
			m["account"] = h.Account
			out = append(out, m)
		}
		fakekit.WriteJSON(w, http.StatusOK, map[string]any{"webhooks": out, "deliveries": f.hooks.deliver.Stats()})
	})
	// drop: {"account"} deletes the account's webhooks, as a user would in
	// the audience's settings.
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

func (f *Fake) webhook(w http.ResponseWriter, r *http.Request, c fakekit.Call) (*listWebhook, bool) {
	f.hooks.mu.Lock()
	h, ok := f.hooks.hooks[r.PathValue("id")]
	f.hooks.mu.Unlock()
	if !ok || h.Account != c.Account || h.ListID != r.PathValue("list") {
		problem(w, http.StatusNotFound, "Resource Not Found", "The requested resource could not be found.")
		return nil, false
	}
	return h, true
}

func (f *Fake) createWebhook(w http.ResponseWriter, r *http.Request, c fakekit.Call) {
	l, ok := f.list(w, r, c)
	if !ok {
		return
	}
	var in struct {
		URL     string          `json:"url"`
		Events  map[string]bool `json:"events"`
		Sources map[string]bool `json:"sources"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil {
		problem(w, http.StatusBadRequest, "JSON Schema Validation Failed", "The request body is not valid for this resource: "+err.Error())
		return
	}
	if u, err := url.Parse(in.URL); in.URL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		problem(w, http.StatusBadRequest, "Invalid Resource", "The resource submitted could not be validated.",
			map[string]string{"field": "url", "message": "This value should be a valid URL."})
		return
	}
	// Mailchimp's validator asks the URL first; a URL that does not answer
	// 2xx is refused.
	st, err := f.hooks.deliver.Post(http.MethodGet, fakekit.Hook{URL: in.URL, Header: http.Header{"User-Agent": {"MailChimp.com WebHook Validator"}}})
	if err != nil || st/100 != 2 {
		problem(w, http.StatusBadRequest, "Invalid Resource", "The resource submitted could not be validated.",
			map[string]string{"field": "url", "message": "We couldn't verify the URL is working. Please double check and try again."})
		return
	}
	events := map[string]bool{}
	for _, e := range webhookEvents {
		events[e] = in.Events[e]
	}
	sources := map[string]bool{"user": in.Sources["user"], "admin": in.Sources["admin"], "api": in.Sources["api"]}
	h := &listWebhook{ID: fakekit.CorrelationID()[:10], Account: c.Account, ListID: l.ID, URL: in.URL, Events: events, Sources: sources}
	f.hooks.mu.Lock()
	f.hooks.hooks[h.ID] = h
	f.hooks.mu.Unlock()
	fakekit.WriteJSON(w, http.StatusOK, h.render())
}

// ListWebhooks returns an account's list webhooks ("" for every account).
func (f *Fake) ListWebhooks(account string) []*listWebhook {
	f.hooks.mu.Lock()
	defer f.hooks.mu.Unlock()
	var out []*listWebhook
	for _, h := range f.hooks.hooks {
		if account == "" || h.Account == account {
			out = append(out, h)
		}
	}
	slices.SortFunc(out, func(a, b *listWebhook) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// DropWebhooks deletes an account's list webhooks.
func (f *Fake) DropWebhooks(account string) int {
	f.hooks.mu.Lock()
	defer f.hooks.mu.Unlock()
	n := 0
	for id, h := range f.hooks.hooks {
		if h.Account == account {
			delete(f.hooks.hooks, id)
			n++
		}
	}
	return n
}

// WaitWebhooks returns once every delivery sent so far has ended (tests).
func (f *Fake) WaitWebhooks() { f.hooks.deliver.Wait() }

// onChange posts the events of changed members to the list's webhooks.
// The fake does not tell apart who made a change: every source fires.
func (f *Fake) onChange(account, object string, changes []fakekit.Change) {
	listID, ok := strings.CutPrefix(object, "members:")
	if !ok {
		return
	}
	var hooks []*listWebhook
	for _, h := range f.ListWebhooks(account) {
		if h.ListID == listID {
			hooks = append(hooks, h)
		}
	}
	if len(hooks) == 0 {
		return
	}
	firedAt := f.kit.Now().UTC().Format("2006-01-02 15:04:05")
	for _, ch := range changes {
		typ, form := memberEvent(listID, ch)
		if typ == "" {
			continue
		}
		form.Set("type", typ)
		form.Set("fired_at", firedAt)
		body := []byte(form.Encode())
		for _, h := range hooks {
			if !h.Events[typ] {
				continue
			}
			f.hooks.deliver.Send(fakekit.Hook{URL: h.URL, Body: body, Header: http.Header{
				"Content-Type": {"application/x-www-form-urlencoded"}, "User-Agent": {"MailChimp.com"}}})
		}
	}
}

// memberEvent is the webhook event of one member change and its data[...] fields.
func memberEvent(listID string, ch fakekit.Change) (string, url.Values) {
	r := ch.Record
	v := url.Values{}
	v.Set("data[id]", r.ID)
	v.Set("data[list_id]", listID)
	v.Set("data[email]", r.Fields["email_address"])
	v.Set("data[email_type]", "html")
	v.Set("data[web_id]", strings.TrimLeft(r.ID[:8], "0"))
	v.Set("data[ip_opt]", "198.51.100.7")
	v.Set("data[merges][EMAIL]", r.Fields["email_address"])
	for _, mf := range mergeFields {
		if val := r.Fields[mf.Tag]; val != "" {
			v.Set("data[merges]["+mf.Tag+"]", val)
		}
	}
	switch {
	case ch.Deleted:
		v.Set("data[action]", "delete")
		v.Set("data[reason]", "manual")
		return "unsubscribe", v
	case ch.Created:
		return "subscribe", v
	case slices.Contains(ch.Fields, "status"):
		switch r.Fields["status"] {
		case "unsubscribed":
			v.Set("data[action]", "unsub")
			v.Set("data[reason]", "manual")
			return "unsubscribe", v
		case "cleaned":
			v.Set("data[reason]", "hard")
			return "cleaned", v
		case "subscribed":
			return "subscribe", v
		}
	}
	return "profile", v
}
