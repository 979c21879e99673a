// Package api serves Patchbay's JSON API under /api/v1 and the OAuth callback.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"patchbay/internal/bridge"
	"patchbay/internal/catalog"
	"patchbay/internal/connection"
	"patchbay/internal/enrich"
	"patchbay/internal/store"
)

// Handler holds the API's dependencies.
type Handler struct {
	store  *store.Store
	conns  *connection.Service
	log    *slog.Logger
	now    func() time.Time
	data   *DataDeps       // tables and syncs (tables.go); nil leaves those routes out
	enrich *enrich.Service // action columns (enrich.go); nil leaves those routes out
	bridge *bridge.Service // the webhook bridge (bridge.go); nil leaves those routes out
}

// New returns the API handler.
func New(st *store.Store, conns *connection.Service, log *slog.Logger) *Handler {
	return &Handler{store: st, conns: conns, log: log, now: time.Now}
}

// Register mounts every route on mux. The whole surface is visible here.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /oauth/callback", h.callback)
	mux.HandleFunc("GET /api/v1/oauth/callback", h.callback)

	api := func(pattern string, fn func(http.ResponseWriter, *http.Request, *Principal)) {
		mux.Handle(pattern, h.authenticated(fn))
	}
	api("GET /api/v1/providers", h.providers)
	api("GET /api/v1/integrations", h.integrations)
	api("GET /api/v1/connections", h.listConnections)
	api("POST /api/v1/connections", h.connect)
	api("GET /api/v1/connections/{id}", h.getConnection)
	api("PATCH /api/v1/connections/{id}", h.patchConnection)
	api("POST /api/v1/connections/{id}/reconnect", h.reconnect)
	api("POST /api/v1/connections/{id}/test", h.test)
	api("POST /api/v1/connections/{id}/disconnect", h.disconnect)
	api("GET /api/v1/events", h.events)
	h.registerData(mux, api)
	h.registerEnrich(api)
	h.registerBridge(mux, api)
	mux.Handle("/api/", h.authenticated(func(w http.ResponseWriter, r *http.Request, _ *Principal) {
		writeProblem(w, Problem{Status: http.StatusNotFound, Detail: "no such API route: " + r.Method + " " + r.URL.Path})
	}))
}

// Principal is who is calling.
type Principal struct {
	Workspace *store.Workspace
	Token     *store.Token
}

type principalKey struct{}

// WithPrincipal returns a context carrying p (the dashboard's session login uses it too).
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// Authenticate resolves a bearer token value to a principal.
func (h *Handler) Authenticate(ctx context.Context, token string) (*Principal, error) {
	t, err := h.store.TokenByHash(ctx, connection.HashToken(token))
	if err != nil {
		return nil, err
	}
	now := h.now()
	if !t.RevokedAt.IsZero() || (!t.ExpiresAt.IsZero() && now.After(t.ExpiresAt)) {
		return nil, store.ErrNotFound
	}
	ws, err := h.store.GetWorkspace(ctx, t.WorkspaceID)
	if err != nil {
		return nil, err
	}
	return &Principal{Workspace: ws, Token: t}, nil
}

func (h *Handler) authenticated(fn func(http.ResponseWriter, *http.Request, *Principal)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p, ok := r.Context().Value(principalKey{}).(*Principal); ok {
			fn(w, r, p)
			return
		}
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || token == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="patchbay"`)
			writeProblem(w, Problem{Status: http.StatusUnauthorized, Detail: "send an API token as Authorization: Bearer <token> (patchbay demo prints one)"})
			return
		}
		p, err := h.Authenticate(r.Context(), token)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="patchbay", error="invalid_token"`)
			writeProblem(w, Problem{Status: http.StatusUnauthorized, Detail: "the API token is unknown, revoked or expired"})
			return
		}
		fn(w, r, p)
	})
}

func (h *Handler) providers(w http.ResponseWriter, r *http.Request, _ *Principal) {
	out := []providerView{}
	for _, p := range h.conns.Catalog().All() {
		out = append(out, viewProvider(p))
	}
	writeJSON(w, http.StatusOK, map[string]any{"providers": out})
}

func (h *Handler) integrations(w http.ResponseWriter, r *http.Request, pr *Principal) {
	conns, err := h.store.ListConnections(r.Context(), pr.Workspace.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	type integration struct {
		providerView
		Available   bool              `json:"available"` // the workspace's plan includes it
		Connections []*connectionView `json:"connections"`
	}
	out := []integration{}
	attention := 0
	for _, p := range h.conns.Catalog().All() {
		it := integration{providerView: viewProvider(p), Available: p.Tier == catalog.TierStandard || pr.Workspace.Plan == catalog.TierPremium,
			Connections: []*connectionView{}}
		for _, c := range conns {
			if c.Provider == p.ID {
				v := h.viewConnection(c, p)
				if v.Health == connection.HealthRed || v.Health == connection.HealthYellow {
					attention++
				}
				it.Connections = append(it.Connections, v)
			}
		}
		out = append(out, it)
	}
	writeJSON(w, http.StatusOK, map[string]any{"integrations": out, "needs_attention": attention, "plan": pr.Workspace.Plan})
}

func (h *Handler) listConnections(w http.ResponseWriter, r *http.Request, pr *Principal) {
	conns, err := h.store.ListConnections(r.Context(), pr.Workspace.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := []*connectionView{}
	for _, c := range conns {
		p, _ := h.conns.Catalog().Get(c.Provider)
		out = append(out, h.viewConnection(c, p))
	}
	writeJSON(w, http.StatusOK, map[string]any{"connections": out})
}

func (h *Handler) connect(w http.ResponseWriter, r *http.Request, pr *Principal) {
	var body struct {
		Provider string            `json:"provider"`
		Config   map[string]string `json:"config"`
		Scopes   []string          `json:"scopes"`
		APIKey   string            `json:"api_key"`
		Notes    string            `json:"notes"`
	}
	if err := decode(r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	c, url, err := h.conns.Connect(r.Context(), pr.Workspace, connection.ConnectRequest{
		Provider: body.Provider, Config: body.Config, Scopes: body.Scopes, APIKey: body.APIKey, Notes: body.Notes, Actor: pr.Token.Name})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := map[string]any{"connection": h.detail(r.Context(), c)}
	if url != "" {
		out["authorize_url"] = url
	}
	writeJSON(w, http.StatusCreated, out)
}

func (h *Handler) getConnection(w http.ResponseWriter, r *http.Request, pr *Principal) {
	c, err := h.store.GetConnection(r.Context(), pr.Workspace.ID, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.detail(r.Context(), c))
}

func (h *Handler) patchConnection(w http.ResponseWriter, r *http.Request, pr *Principal) {
	var body struct {
		Notes *string `json:"notes"`
	}
	if err := decode(r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	var c *store.Connection
	err := h.store.InTx(r.Context(), func(tx *store.Tx) error {
		var err error
		c, err = h.store.GetConnection(r.Context(), pr.Workspace.ID, r.PathValue("id"))
		if err != nil {
			return err
		}
		if body.Notes != nil {
			c.Notes = *body.Notes
		}
		return tx.UpdateConnection(r.Context(), c)
	})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.detail(r.Context(), c))
}

func (h *Handler) reconnect(w http.ResponseWriter, r *http.Request, pr *Principal) {
	var body struct {
		Scopes             []string `json:"scopes"`
		APIKey             string   `json:"api_key"`
		AllowAccountChange bool     `json:"allow_account_change"`
	}
	if err := decode(r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	c, url, err := h.conns.Reconnect(r.Context(), pr.Workspace, r.PathValue("id"), connection.ReconnectRequest{
		Scopes: body.Scopes, APIKey: body.APIKey, AllowAccountChange: body.AllowAccountChange, Actor: pr.Token.Name})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := map[string]any{"connection": h.detail(r.Context(), c)}
	if url != "" {
		out["authorize_url"] = url
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) test(w http.ResponseWriter, r *http.Request, pr *Principal) {
	c, err := h.conns.Test(r.Context(), pr.Workspace, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.detail(r.Context(), c))
}

func (h *Handler) disconnect(w http.ResponseWriter, r *http.Request, pr *Principal) {
	c, err := h.conns.Disconnect(r.Context(), pr.Workspace, r.PathValue("id"), pr.Token.Name)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.detail(r.Context(), c))
}

func (h *Handler) events(w http.ResponseWriter, r *http.Request, pr *Principal) {
	evs, err := h.store.ListEvents(r.Context(), pr.Workspace.ID, r.URL.Query().Get("connection_id"), 200)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := []eventView{}
	for _, e := range evs {
		out = append(out, viewEvent(e))
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": out})
}

// callback finishes OAuth. It answers a browser, so success redirects to the
// dashboard (a fixed path: nothing from the request decides where) and
// failures render a short page with the problem and its status code.
func (h *Handler) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	res, err := h.conns.Callback(r.Context(), q.Get("state"), q.Get("code"), q.Get("error"))
	if err != nil {
		p := ProblemFor(err)
		h.log.InfoContext(r.Context(), "oauth callback refused", "status", p.Status, "err", err)
		if strings.Contains(r.Header.Get("Accept"), "json") {
			writeProblem(w, p)
			return
		}
		renderCallbackPage(w, p, res)
		return
	}
	http.Redirect(w, r, "/oauth/done?connection="+res.Connection.ID+"&result=connected", http.StatusSeeOther)
}
