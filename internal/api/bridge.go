package api

import (
	"errors"
	"io"
	"net/http"
	"time"

	"patchbay/internal/bridge"
	"patchbay/internal/store"
)

// SetBridge wires the webhook bridge routes; call it before Register.
func (h *Handler) SetBridge(b *bridge.Service) { h.bridge = b }

func (h *Handler) registerBridge(mux *http.ServeMux, api route) {
	if h.bridge == nil {
		return
	}
	api("POST /api/v1/tables/{id}/hooks", h.createHook)
	api("GET /api/v1/tables/{id}/hooks", h.listHooks)
	api("DELETE /api/v1/tables/{id}/hooks/{hook}", h.deleteHook)
	mux.HandleFunc("POST /hooks/{token}", h.receiveHook)
}

type hookView struct {
	ID            string     `json:"id"`
	TableID       string     `json:"table_id"`
	URL           string     `json:"url,omitempty"`            // only when created: it holds the token
	SigningSecret string     `json:"signing_secret,omitempty"` // only when created
	Signed        bool       `json:"signed"`
	MatchColumn   string     `json:"match_column,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	LastUsedAt    *time.Time `json:"last_used_at,omitempty"`
}

func viewHook(hk *store.Hook) hookView {
	return hookView{ID: hk.ID, TableID: hk.TableID, Signed: hk.Secret != nil, MatchColumn: hk.MatchColumn, CreatedAt: hk.CreatedAt, LastUsedAt: tp(hk.LastUsedAt)}
}

// createHook makes an inbound URL; its token and signing secret are in this
// answer and nowhere else.
func (h *Handler) createHook(w http.ResponseWriter, r *http.Request, pr *Principal) {
	var body struct {
		MatchColumn string `json:"match_column"`
		Signed      bool   `json:"signed"`
	}
	if err := decode(r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	c, err := h.bridge.Create(r.Context(), pr.Workspace, r.PathValue("id"), body.MatchColumn, body.Signed)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	v := viewHook(c.Hook)
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	v.URL = scheme + "://" + r.Host + "/hooks/" + c.Token
	v.SigningSecret = c.SigningSecret
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, v)
}

func (h *Handler) listHooks(w http.ResponseWriter, r *http.Request, pr *Principal) {
	tb, err := h.store.GetTable(r.Context(), pr.Workspace.ID, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	hks, err := h.store.TableHooks(r.Context(), tb.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := []hookView{}
	for _, hk := range hks {
		out = append(out, viewHook(hk))
	}
	writeJSON(w, http.StatusOK, map[string]any{"hooks": out})
}

func (h *Handler) deleteHook(w http.ResponseWriter, r *http.Request, pr *Principal) {
	tb, err := h.store.GetTable(r.Context(), pr.Workspace.ID, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.store.DeleteHook(r.Context(), tb.ID, r.PathValue("hook")); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// receiveHook is the public end of the bridge: the token in the path is
// the credential.
func (h *Handler) receiveHook(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, bridge.MaxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeProblem(w, Problem{Status: http.StatusRequestEntityTooLarge, Detail: "the body is larger than 1 MiB; send fewer rows per request"})
		return
	case err != nil:
		writeProblem(w, Problem{Status: http.StatusBadRequest, Detail: "cannot read the body"})
		return
	}
	res, err := h.bridge.Receive(r.Context(), r.PathValue("token"), r.Header, body)
	var pe *bridge.PayloadError
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, res)
	case errors.Is(err, bridge.ErrUnknownHook):
		writeProblem(w, Problem{Status: http.StatusNotFound, Detail: err.Error()})
	case errors.Is(err, bridge.ErrBadSignature):
		writeProblem(w, Problem{Type: "/problems/bad-signature", Title: "Bad signature", Status: http.StatusUnauthorized, Detail: err.Error()})
	case errors.Is(err, bridge.ErrReplayed):
		writeProblem(w, Problem{Type: "/problems/replayed", Title: "Already received", Status: http.StatusConflict, Detail: err.Error()})
	case errors.Is(err, bridge.ErrBadIdemKey):
		writeProblem(w, Problem{Type: "/problems/bad-idempotency-key", Title: "Bad idempotency key", Status: http.StatusBadRequest, Detail: err.Error()})
	case errors.As(err, &pe):
		writeProblem(w, Problem{Type: "/problems/malformed-json", Title: "Malformed JSON", Status: http.StatusBadRequest, Detail: pe.Error()})
	default:
		h.fail(w, r, err)
	}
}
