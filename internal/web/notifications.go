package web

import (
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The notifications page: e-mail and webhook routes (all connections or
// one, and which events), a "send a test" per route, and this month's
// digest as it would be sent.

type routeInfo struct {
	ID           string     `json:"id"`
	ConnectionID string     `json:"connection_id"`
	Channel      string     `json:"channel"`
	Email        string     `json:"email"`
	WebhookURL   string     `json:"webhook_url"`
	Events       []string   `json:"events"`
	CreatedAt    *time.Time `json:"created_at"`
	Secret       string     `json:"secret"`
}

// eventLabels say what triggers each event.
var eventLabels = map[string]string{
	"connection.red":           "A connection needs action (red)",
	"connection.expiring_soon": "A connection's access expires soon",
	"sync.failing":             "A sync keeps failing",
	"connection.recovered":     "A connection is healthy again",
	"digest.monthly":           "The monthly digest",
}

type eventChoice struct{ Name, Label string }

func eventChoices(names []string) []eventChoice {
	out := make([]eventChoice, 0, len(names))
	for _, n := range names {
		l := eventLabels[n]
		if l == "" {
			l = strings.ReplaceAll(n, "_", " ")
		}
		out = append(out, eventChoice{n, l})
	}
	return out
}

type digestInfo struct {
	Subject string `json:"subject"`
	Text    string `json:"text"`
}

func (h *Handler) notificationsPage(w http.ResponseWriter, r *http.Request, s *session) {
	h.renderNotifications(w, r, s, http.StatusOK, nil, nil, nil)
}

func (h *Handler) renderNotifications(w http.ResponseWriter, r *http.Request, s *session, status int, made *routeInfo, p *problem, form url.Values) {
	var out struct {
		Routes []routeInfo `json:"routes"`
		Events []string    `json:"events"`
	}
	if err := h.call(r.Context(), s, "GET", "/notification-routes", nil, &out); err != nil {
		h.errorPage(w, s, h.asProblem(r.Context(), err), "/")
		return
	}
	var dg digestInfo
	if err := h.call(r.Context(), s, "GET", "/notification-digest", nil, &dg); err != nil {
		h.errorPage(w, s, h.asProblem(r.Context(), err), "/")
		return
	}
	conns, _, err := h.loadConnections(r.Context(), s)
	if err != nil {
		h.errorPage(w, s, h.asProblem(r.Context(), err), "/")
		return
	}
	d := h.pageData(s, "Notifications")
	d["Nav"] = "notifications"
	d["Routes"], d["Events"], d["Digest"], d["Conns"], d["Made"], d["Problem"] = out.Routes, eventChoices(out.Events), dg, conns, made, p
	d["Labels"] = eventLabels
	d["Form"] = formValues{form}
	d["Notice"] = notices[r.URL.Query().Get("notice")]
	if _, ok := h.cfg.Fakes["mail"]; ok {
		d["Mailbox"] = "/_fakes/mail/_control/messages"
	}
	if p != nil {
		d["Errors"] = p.FieldErrors()
	}
	h.render(w, status, "notifications", d)
}

func (h *Handler) createRoute(w http.ResponseWriter, r *http.Request, s *session) {
	body := map[string]any{"connection_id": r.PostFormValue("connection_id"), "events": r.PostForm["event"]}
	if r.PostFormValue("channel") == "webhook" {
		body["webhook_url"] = strings.TrimSpace(r.PostFormValue("target"))
	} else {
		body["email"] = strings.TrimSpace(r.PostFormValue("target"))
	}
	var rt routeInfo
	if err := h.call(r.Context(), s, "POST", "/notification-routes", body, &rt); err != nil {
		p := h.asProblem(r.Context(), err)
		if p.Status != http.StatusUnprocessableEntity {
			h.errorPage(w, s, p, "/notifications")
			return
		}
		h.renderNotifications(w, r, s, p.Status, nil, p, r.PostForm)
		return
	}
	if rt.Secret != "" {
		// A webhook's signing secret is in this answer only.
		w.Header().Set("Cache-Control", "no-store")
		h.renderNotifications(w, r, s, http.StatusCreated, &rt, nil, nil)
		return
	}
	http.Redirect(w, r, "/notifications?notice=route_created", http.StatusSeeOther)
}

func (h *Handler) testRoute(w http.ResponseWriter, r *http.Request, s *session) {
	if err := h.call(r.Context(), s, "POST", "/notification-routes/"+url.PathEscape(r.PathValue("id"))+"/test", nil, nil); err != nil {
		p := h.asProblem(r.Context(), err)
		p.Title = "The test was not delivered"
		h.errorPage(w, s, p, "/notifications")
		return
	}
	http.Redirect(w, r, "/notifications?notice=test_sent", http.StatusSeeOther)
}

func (h *Handler) deleteRoute(w http.ResponseWriter, r *http.Request, s *session) {
	if err := h.call(r.Context(), s, "DELETE", "/notification-routes/"+url.PathEscape(r.PathValue("id")), nil, nil); err != nil {
		h.errorPage(w, s, h.asProblem(r.Context(), err), "/notifications")
		return
	}
	http.Redirect(w, r, "/notifications?notice=route_deleted", http.StatusSeeOther)
}
