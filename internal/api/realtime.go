package api

import (
	"context"
	"errors"
	"io"
	"net/http"

	"patchbay/internal/connection"
	"patchbay/internal/connector"
	"patchbay/internal/store"
	"patchbay/internal/syncer"
)

// registerRealtime mounts the receiver of the change notifications that
// providers post to the URLs Patchbay subscribed (connection.RealtimePath).
// It is not under /api/v1: the provider authenticates by the URL's token and
// its own signature. GET answers a provider's check of the URL (Mailchimp).
func (h *Handler) registerRealtime(mux *http.ServeMux) {
	if h.data.Notify == nil {
		return
	}
	recv := func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, "notification bodies are limited to 1 MiB", http.StatusRequestEntityTooLarge)
			return
		}
		d := connector.Delivery{Method: r.Method, URL: h.realtimeURL(r), Header: r.Header, Body: body}
		got, err := h.conns.ReceiveRealtime(r.Context(), r.PathValue("id"), r.PathValue("token"), d)
		switch {
		case errors.Is(err, connection.ErrUnknownSubscription):
			// Gone: the provider drops a URL that keeps answering 404 or 410.
			http.Error(w, "no such subscription", http.StatusGone)
			return
		case errors.Is(err, connector.ErrNotificationRefused):
			h.log.WarnContext(r.Context(), "realtime notification refused", "subscription", r.PathValue("id"), "err", err)
			http.Error(w, "the notification does not verify", http.StatusUnauthorized)
			return
		case err != nil:
			h.log.ErrorContext(r.Context(), "realtime notification", "subscription", r.PathValue("id"), "err", err)
			http.Error(w, "try again", http.StatusServiceUnavailable) // the provider retries
			return
		}
		if got.Outcome == store.DeliveryAccepted {
			if err := h.notifySyncs(r.Context(), got.Subscription); err != nil {
				h.log.ErrorContext(r.Context(), "queue realtime run", "subscription", got.Subscription.ID, "err", err)
				http.Error(w, "try again", http.StatusServiceUnavailable)
				return
			}
		}
		w.WriteHeader(http.StatusOK)
	}
	mux.HandleFunc("POST "+connection.RealtimePath+"{id}/{token}", recv)
	mux.HandleFunc("GET "+connection.RealtimePath+"{id}/{token}", recv)
}

// realtimeURL is the URL the provider posted to, as it signed it.
func (h *Handler) realtimeURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.RequestURI()
}

// notifySyncs asks for a run of each realtime inbound sync the subscription serves.
func (h *Handler) notifySyncs(ctx context.Context, sub *store.RealtimeSubscription) error {
	ys, err := h.store.ConnectionRealtimeSyncs(ctx, sub.ConnectionID)
	if err != nil {
		return err
	}
	for _, y := range ys {
		if y.Object == sub.Object {
			if err := h.data.Notify(ctx, y.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

// saved tells DataDeps.Saved about a saved sync.
func (h *Handler) saved(r *http.Request, y *store.Sync) {
	if h.data.Saved != nil {
		h.data.Saved(r.Context(), y)
	}
}

// syncRealtimeView says what "realtime" means for one sync.
type syncRealtimeView struct {
	Method            string  `json:"method"`
	Meaning           string  `json:"meaning"`
	ExpectedDelaySecs float64 `json:"expected_delay_seconds"`
	PollIntervalSecs  float64 `json:"poll_interval_seconds,omitempty"`
	// State and Reason are the connection's real time now (inbound).
	State  string `json:"state,omitempty"`
	Reason string `json:"reason,omitempty"`
	Label  string `json:"label,omitempty"`
}

// viewSyncOf is viewSync plus, for a realtime sync, what realtime means.
func (h *Handler) viewSyncOf(ctx context.Context, y *store.Sync) syncView {
	v := viewSync(y)
	if y.Schedule != "realtime" {
		return v
	}
	if y.Direction == syncer.Outbound {
		v.Realtime = &syncRealtimeView{Method: "row_change", Meaning: "Rows are pushed about a second after they change in the table.", ExpectedDelaySecs: 1}
		return v
	}
	c, err := h.store.ConnectionByID(ctx, y.ConnectionID)
	if err != nil {
		return v
	}
	st, err := h.conns.Realtime(ctx, c)
	if err != nil {
		h.log.ErrorContext(ctx, "realtime state", "connection", c.ID, "err", err)
	}
	v.Realtime = &syncRealtimeView{Method: st.Method, Meaning: st.Description, ExpectedDelaySecs: st.ExpectedDelaySecs,
		PollIntervalSecs: st.PollIntervalSecs, State: st.State, Reason: st.Reason, Label: st.Label}
	if st.State == "degraded" {
		// Degraded: the poll is what brings changes now.
		v.Realtime.ExpectedDelaySecs = st.PollIntervalSecs
	}
	return v
}

// realtimeOf is the connection's real time state for its detail view.
func (h *Handler) realtimeOf(ctx context.Context, c *store.Connection) *connection.RealtimeState {
	st, err := h.conns.Realtime(ctx, c)
	if err != nil {
		h.log.ErrorContext(ctx, "realtime state", "connection", c.ID, "err", err)
		return nil
	}
	return &st
}
