package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// notices are the fixed messages a redirect may ask a page to show.
var notices = map[string]string{
	"connected":          "Connected. The card shows the new connection.",
	"reconnected":        "Reconnected. Paused syncs resume and a catch-up sync runs.",
	"tested":             "Test finished: the status below is what the provider answered just now.",
	"disconnected":       "Disconnected: credentials deleted, syncs paused, tables and history kept. Reconnect to resume.",
	"sync_started":       "Sync finished. Its run is in the history, with its counts and any errors.",
	"sync_created":       "Sync saved. Scheduled and realtime syncs start at once; press Sync now to run a manual one.",
	"sync_paused":        "Sync paused. It runs again when you resume it.",
	"sync_resumed":       "Sync resumed.",
	"table_created":      "Table created. Add rows, or set up a sync to fill it.",
	"row_added":          "Row added.",
	"control":            "The fake now misbehaves as asked. Press Test on its card (or wait for the next probe) to see the status change.",
	"notes":              "Notes saved.",
	"sync_saved":         "Changes saved. The next run uses them; a changed filter or mapping reads everything again from the start.",
	"sync_deleted":       "Sync deleted. The rows it brought in stay in the table.",
	"table_deleted":      "Table deleted, with its syncs, action columns and hooks.",
	"rows_deleted":       "Rows deleted.",
	"no_rows_ticked":     "Tick the rows to delete first.",
	"connection_removed": "Connection removed.",
	"action_created":     "Action column added. Its cells fill in as the lookups answer; the page shows them as they do.",
	"action_saved":       "Action column saved. Every row is looked up again; cached answers cost no lookup.",
	"action_queued":      "Lookups queued. The cells fill in as the providers answer.",
	"action_deleted":     "Action column deleted. The values it wrote stay.",
	"route_created":      "Route added. Send it a test to check that it arrives.",
	"route_deleted":      "Route deleted.",
	"test_sent":          "Test sent: it left Patchbay; check that it arrived.",
	"plan_changed":       "Plan changed. The integrations page shows what you can connect now.",
	"hook_revoked":       "URL revoked: posts to it are refused from now on.",
	"record_created":     "Record created at the fake, as a user would at the provider. Realtime syncs bring it into their tables in seconds (Salesforce: within a minute).",
}

// filters are the status filters of the integrations page, in display order.
var filters = []struct{ Key, Label string }{
	{"", "All"}, {"attention", "Needs attention"}, {"connected", "Connected"}, {"not_connected", "Not connected"},
}

type integrationsAnswer struct {
	Integrations   []*integration `json:"integrations"`
	NeedsAttention int            `json:"needs_attention"`
	Plan           string         `json:"plan"`
}

// loadIntegrations reads the integrations view and each shown connection's
// detail (its syncs, for Sync now).
func (h *Handler) loadIntegrations(ctx context.Context, s *session) (*integrationsAnswer, error) {
	var out integrationsAnswer
	if err := h.call(ctx, s, "GET", "/integrations", nil, &out); err != nil {
		return nil, err
	}
	for _, it := range out.Integrations {
		for i, c := range it.Connections {
			if c.Status == "not_connected" {
				continue
			}
			var d conn
			if err := h.call(ctx, s, "GET", "/connections/"+url.PathEscape(c.ID), nil, &d); err != nil {
				return nil, err
			}
			it.Connections[i] = &d
		}
	}
	return &out, nil
}

func (h *Handler) cardOf(s *session, it *integration) card {
	return card{integration: it, Conns: it.visible(), Fake: slices.Contains(h.fakeID, it.ID), CanCreate: h.canCreate(it.ID), CSRF: s.csrf}
}

// integrations is Settings → Integrations: a card per catalog integration.
func (h *Handler) integrations(w http.ResponseWriter, r *http.Request, s *session) {
	ans, err := h.loadIntegrations(r.Context(), s)
	if err != nil {
		h.errorPage(w, s, h.asProblem(r.Context(), err), "/")
		return
	}
	filter := r.URL.Query().Get("status")
	if !slices.ContainsFunc(filters, func(f struct{ Key, Label string }) bool { return f.Key == filter }) {
		filter = ""
	}
	var cards []card
	for _, it := range ans.Integrations {
		if it.matches(filter) {
			cards = append(cards, h.cardOf(s, it))
		}
	}
	d := h.pageData(s, "Integrations")
	d["Cards"], d["Attention"], d["Plan"], d["Filter"], d["Filters"] = cards, ans.NeedsAttention, ans.Plan, filter, filters
	d["Notice"] = notices[r.URL.Query().Get("notice")]
	h.render(w, http.StatusOK, "integrations", d)
}

// card answers one integration's card as an HTML fragment, and the count of
// connections needing attention in a header, for the page's script to swap in.
func (h *Handler) card(w http.ResponseWriter, r *http.Request, s *session) {
	ans, err := h.loadIntegrations(r.Context(), s)
	if err != nil {
		p := h.asProblem(r.Context(), err)
		http.Error(w, p.Detail, p.Status)
		return
	}
	for _, it := range ans.Integrations {
		if it.ID == r.PathValue("provider") {
			w.Header().Set("X-Patchbay-Attention", strconv.Itoa(ans.NeedsAttention))
			h.renderFragment(w, "integrations", "card", h.cardOf(s, it))
			return
		}
	}
	http.Error(w, "no integration "+r.PathValue("provider")+" in the catalog", http.StatusNotFound)
}

// findIntegration returns one catalog entry as the integrations view shows it.
func (h *Handler) findIntegration(ctx context.Context, s *session, id string) (*integration, error) {
	var out integrationsAnswer
	if err := h.call(ctx, s, "GET", "/integrations", nil, &out); err != nil {
		return nil, err
	}
	for _, it := range out.Integrations {
		if it.ID == id {
			return it, nil
		}
	}
	return nil, &problem{Status: http.StatusNotFound, Title: "Not found", Detail: "no integration " + id + " in the catalog"}
}

// connectPage is the connect form on a page of its own: provider settings,
// permissions, API key. The card offers the same form inline; this page is
// where it lands without JavaScript and when the input needs fixing.
func (h *Handler) connectPage(w http.ResponseWriter, r *http.Request, s *session) {
	it, err := h.findIntegration(r.Context(), s, r.PathValue("provider"))
	if err != nil {
		h.errorPage(w, s, h.asProblem(r.Context(), err), "/")
		return
	}
	h.renderConnect(w, s, http.StatusOK, it, r.Form, nil)
}

func (h *Handler) renderConnect(w http.ResponseWriter, s *session, status int, it *integration, form url.Values, p *problem) {
	d := h.pageData(s, "Connect "+it.Name)
	cf := connectForm{Card: h.cardOf(s, it), Form: formValues{form}, Errors: map[string]string{}, Problem: p}
	if p != nil {
		cf.Errors = p.FieldErrors()
	}
	d["Card"], d["ConnectForm"] = cf.Card, cf
	h.render(w, status, "connect", d)
}

// formValues lets templates read submitted values back into the form.
type formValues struct{ url.Values }

// Config returns the submitted value of config field name.
func (f formValues) Config(name string) string { return f.Get("config." + name) }

// Scope reports whether scope name is ticked: on a fresh form, the
// catalog's default set is.
func (f formValues) Scope(sc scope) bool {
	if f.Values == nil || !f.Has("scopes_sent") {
		return sc.Required || sc.Typical
	}
	return slices.Contains(f.Values["scope"], sc.Name)
}

// connect starts a connection. OAuth answers the consent page's URL (the
// script opens it in a popup; a plain form post is redirected there); an
// API key is checked with the provider and the provider's answer shown.
func (h *Handler) connect(w http.ResponseWriter, r *http.Request, s *session) {
	provider := r.PathValue("provider")
	body := map[string]any{"provider": provider}
	cfg := map[string]string{}
	for k, v := range r.PostForm {
		if name, ok := strings.CutPrefix(k, "config."); ok && strings.TrimSpace(v[0]) != "" {
			cfg[name] = strings.TrimSpace(v[0])
		}
	}
	body["config"] = cfg
	if k := r.PostFormValue("api_key"); k != "" {
		body["api_key"] = k
	}
	if n := strings.TrimSpace(r.PostFormValue("notes")); n != "" {
		body["notes"] = n
	}
	if r.PostForm.Has("scopes_sent") {
		body["scopes"] = r.PostForm["scope"]
	}
	var out struct {
		Connection   conn   `json:"connection"`
		AuthorizeURL string `json:"authorize_url"`
	}
	err := h.call(r.Context(), s, "POST", "/connections", body, &out)
	if err != nil {
		p := h.asProblem(r.Context(), err)
		if isFetch(r) {
			writeJSON(w, p.Status, p)
			return
		}
		it, ierr := h.findIntegration(r.Context(), s, provider)
		if ierr != nil {
			h.errorPage(w, s, p, "/")
			return
		}
		r.PostForm.Del("api_key") // never echo a secret back into the page
		h.renderConnect(w, s, p.Status, it, r.PostForm, p)
		return
	}
	h.answerAction(w, r, out.Connection.ID, provider, out.AuthorizeURL, "connected", "/")
}

// answerAction tells the page's script what happened, or redirects a plain
// form post: to the consent page when there is one, else back with a notice.
func (h *Handler) answerAction(w http.ResponseWriter, r *http.Request, connID, provider, authorizeURL, notice, back string) {
	if isFetch(r) {
		out := map[string]string{"connection": connID, "provider": provider, "notice": notices[notice]}
		if authorizeURL != "" {
			out["authorize_url"] = authorizeURL
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	if authorizeURL != "" {
		http.Redirect(w, r, authorizeURL, http.StatusSeeOther)
		return
	}
	back = localPath(back, "/")
	sep := "?"
	if strings.Contains(back, "?") {
		sep = "&"
	}
	http.Redirect(w, r, back+sep+"notice="+notice, http.StatusSeeOther)
}

// actionFailed answers a refused action: JSON for the script, a page otherwise.
func (h *Handler) actionFailed(w http.ResponseWriter, r *http.Request, s *session, err error, back string) {
	p := h.asProblem(r.Context(), err)
	if isFetch(r) {
		writeJSON(w, p.Status, p)
		return
	}
	h.errorPage(w, s, p, localPath(back, "/"))
}

// back is where a plain form post returns: the page it came from.
func back(r *http.Request) string { return localPath(r.PostFormValue("return"), "/") }

func (h *Handler) test(w http.ResponseWriter, r *http.Request, s *session) {
	var c conn
	if err := h.call(r.Context(), s, "POST", "/connections/"+url.PathEscape(r.PathValue("id"))+"/test", nil, &c); err != nil {
		h.actionFailed(w, r, s, err, back(r))
		return
	}
	h.answerAction(w, r, c.ID, c.Provider, "", "tested", back(r))
}

// reconnect re-authorizes: OAuth through the consent page again, API keys
// with the new key. allow_account_change accepts another account after the
// user confirmed it.
func (h *Handler) reconnect(w http.ResponseWriter, r *http.Request, s *session) {
	body := map[string]any{}
	if k := r.PostFormValue("api_key"); k != "" {
		body["api_key"] = k
	}
	if r.PostFormValue("allow_account_change") != "" {
		body["allow_account_change"] = true
	}
	var out struct {
		Connection   conn   `json:"connection"`
		AuthorizeURL string `json:"authorize_url"`
	}
	if err := h.call(r.Context(), s, "POST", "/connections/"+url.PathEscape(r.PathValue("id"))+"/reconnect", body, &out); err != nil {
		h.actionFailed(w, r, s, err, back(r))
		return
	}
	h.answerAction(w, r, out.Connection.ID, out.Connection.Provider, out.AuthorizeURL, "reconnected", back(r))
}

// disconnectPage is the confirmation, on a page of its own for browsers
// without JavaScript (the script shows the same text in a dialog).
func (h *Handler) disconnectPage(w http.ResponseWriter, r *http.Request, s *session) {
	var c conn
	if err := h.call(r.Context(), s, "GET", "/connections/"+url.PathEscape(r.PathValue("id")), nil, &c); err != nil {
		h.errorPage(w, s, h.asProblem(r.Context(), err), "/")
		return
	}
	d := h.pageData(s, "Disconnect "+c.ProviderName)
	d["C"] = &c
	d["Return"] = localPath(r.URL.Query().Get("return"), "/")
	h.render(w, http.StatusOK, "disconnect", d)
}

func (h *Handler) disconnect(w http.ResponseWriter, r *http.Request, s *session) {
	var c conn
	if err := h.call(r.Context(), s, "POST", "/connections/"+url.PathEscape(r.PathValue("id"))+"/disconnect", nil, &c); err != nil {
		h.actionFailed(w, r, s, err, back(r))
		return
	}
	h.answerAction(w, r, c.ID, c.Provider, "", "disconnected", back(r))
}

func (h *Handler) notes(w http.ResponseWriter, r *http.Request, s *session) {
	var c conn
	notes := r.PostFormValue("notes")
	if err := h.call(r.Context(), s, "PATCH", "/connections/"+url.PathEscape(r.PathValue("id")), map[string]any{"notes": notes}, &c); err != nil {
		h.actionFailed(w, r, s, err, back(r))
		return
	}
	h.answerAction(w, r, c.ID, c.Provider, "", "notes", "/connections/"+url.PathEscape(c.ID))
}

// syncNow runs a sync through the syncs API (POST /syncs/{id}/run).
func (h *Handler) syncNow(w http.ResponseWriter, r *http.Request, s *session) {
	var run struct {
		ID string `json:"id"`
	}
	if err := h.call(r.Context(), s, "POST", "/syncs/"+url.PathEscape(r.PathValue("id"))+"/run", map[string]any{}, &run); err != nil {
		h.actionFailed(w, r, s, err, back(r))
		return
	}
	h.answerAction(w, r, r.PostFormValue("connection"), r.PostFormValue("provider"), "", "sync_started", back(r))
}

// detail is the connection page: scopes next to what syncs use, endpoint,
// objects, account, expiry, notes, syncs, runs, errors and the fix.
func (h *Handler) detail(w http.ResponseWriter, r *http.Request, s *session) {
	var c conn
	if err := h.call(r.Context(), s, "GET", "/connections/"+url.PathEscape(r.PathValue("id")), nil, &c); err != nil {
		h.errorPage(w, s, h.asProblem(r.Context(), err), "/")
		return
	}
	it, err := h.findIntegration(r.Context(), s, c.Provider)
	if err != nil {
		h.errorPage(w, s, h.asProblem(r.Context(), err), "/")
		return
	}
	tl, err := h.loadTimeline(r.Context(), s, c.ID)
	if err != nil {
		h.errorPage(w, s, h.asProblem(r.Context(), err), "/")
		return
	}
	d := h.pageData(s, c.ProviderName+" connection")
	d["C"], d["Card"], d["Timeline"] = &c, h.cardOf(s, it), tl
	d["Notice"] = notices[r.URL.Query().Get("notice")]
	d["Self"] = "/connections/" + c.ID
	d["Mismatch"] = refusedAccountChange(&c)
	h.render(w, http.StatusOK, "detail", d)
}

// oauthDone is where a successful OAuth callback lands: in a popup its script
// tells the opener and closes; in the main window it goes back to the dashboard.
func (h *Handler) oauthDone(w http.ResponseWriter, r *http.Request) {
	h.render(w, http.StatusOK, "done", map[string]any{"Title": "Connected", "Connection": r.URL.Query().Get("connection")})
}

// refusedAccountChange returns the audit message of a reconnect refused for
// signing in to another account, when no connect succeeded since.
func refusedAccountChange(c *conn) string {
	if len(c.RecentErrors) == 0 {
		return ""
	}
	e := c.RecentErrors[0]
	if e.Kind != "connection.account_mismatch" || e.CreatedAt == nil || (c.ConnectedAt != nil && c.ConnectedAt.After(*e.CreatedAt)) {
		return ""
	}
	return e.Message
}
