package api

import (
	"errors"
	"net/http"
	"time"

	"patchbay/internal/catalog"
	"patchbay/internal/connection"
	"patchbay/internal/notify"
	"patchbay/internal/store"
)

// UseNotifications gives the API the notifier behind the notification routes.
func (h *Handler) UseNotifications(n *notify.Notifier) { h.notes = n }

// registerNotifications mounts the routes that decide who hears about which
// connection, and the digest preview.
func (h *Handler) registerNotifications(api func(string, func(http.ResponseWriter, *http.Request, *Principal))) {
	api("GET /api/v1/notification-routes", h.listRoutes)
	api("POST /api/v1/notification-routes", h.createRoute)
	api("DELETE /api/v1/notification-routes/{id}", h.deleteRoute)
	api("POST /api/v1/notification-routes/{id}/test", h.testRoute)
	api("GET /api/v1/notification-digest", h.digest)
}

type routeView struct {
	ID           string    `json:"id"`
	ConnectionID string    `json:"connection_id"`
	Channel      string    `json:"channel"`
	Email        string    `json:"email,omitempty"`
	WebhookURL   string    `json:"webhook_url,omitempty"`
	Events       []string  `json:"events"`
	CreatedAt    time.Time `json:"created_at"`
	// Secret is the webhook signing secret, returned once, at creation.
	Secret string `json:"secret,omitempty"`
}

func viewRoute(r *store.NotificationRoute) routeView {
	v := routeView{ID: r.ID, ConnectionID: r.ConnectionID, Channel: r.Channel, Events: nonNil(r.Events), CreatedAt: r.CreatedAt}
	if r.Channel == notify.ChannelEmail {
		v.Email = r.Target
	} else {
		v.WebhookURL = r.Target
	}
	return v
}

func (h *Handler) listRoutes(w http.ResponseWriter, r *http.Request, pr *Principal) {
	routes, err := h.store.ListRoutes(r.Context(), pr.Workspace.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := []routeView{}
	for _, rt := range routes {
		out = append(out, viewRoute(rt))
	}
	writeJSON(w, http.StatusOK, map[string]any{"routes": out, "events": notify.Kinds})
}

func (h *Handler) createRoute(w http.ResponseWriter, r *http.Request, pr *Principal) {
	var body struct {
		ConnectionID string   `json:"connection_id"`
		Email        string   `json:"email"`
		WebhookURL   string   `json:"webhook_url"`
		Events       []string `json:"events"`
	}
	if err := decode(r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	rt, secret, err := h.notes.CreateRoute(r.Context(), pr.Workspace.ID, notify.RouteRequest{ConnectionID: body.ConnectionID,
		Email: body.Email, WebhookURL: body.WebhookURL, Events: body.Events})
	var fe *notify.FieldError
	if errors.As(err, &fe) {
		err = &connection.ValidationError{Fields: []catalog.FieldError{{Field: fe.Field, Message: fe.Message}}}
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	v := viewRoute(rt)
	v.Secret = secret
	writeJSON(w, http.StatusCreated, v)
}

func (h *Handler) deleteRoute(w http.ResponseWriter, r *http.Request, pr *Principal) {
	if err := h.store.DeleteRoute(r.Context(), pr.Workspace.ID, r.PathValue("id")); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// testRoute sends a test message over the route now: 200 when it went out,
// 502 with the reason when the mail server or webhook refused it.
func (h *Handler) testRoute(w http.ResponseWriter, r *http.Request, pr *Principal) {
	err := h.notes.SendTest(r.Context(), pr.Workspace.ID, r.PathValue("id"))
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, map[string]bool{"sent": true})
	case errors.Is(err, store.ErrNotFound):
		h.fail(w, r, err)
	default:
		writeProblem(w, Problem{Type: "/problems/not-delivered", Title: "Not delivered", Status: http.StatusBadGateway, Detail: err.Error()})
	}
}

// digest previews this month's digest without sending it.
func (h *Handler) digest(w http.ResponseWriter, r *http.Request, pr *Principal) {
	m, err := h.notes.Digest(r.Context(), pr.Workspace.ID, h.now())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, m)
}
