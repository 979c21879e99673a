// Package api serves Patchbay's JSON API under /api/v1 and the OAuth callback.
package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"patchbay/internal/access"
	"patchbay/internal/bridge"
	"patchbay/internal/catalog"
	"patchbay/internal/connection"
	"patchbay/internal/enrich"
	"patchbay/internal/notify"
	"patchbay/internal/store"
)

// Handler holds the API's dependencies.
type Handler struct {
	store *store.Store
	conns *connection.Service
	log   *slog.Logger
	now   func() time.Time
	notes *notify.Notifier // notification routes and digests (notifications.go)
	data  *DataDeps        // tables and syncs (tables.go); nil leaves those routes out
	// roles is the route table: pattern → least role, filled by route().
	roles map[string]access.Role
	// browser names who is signed in to the dashboard in a request (the OAuth
	// callback checks it against who started the flow); nil: nobody.
	browser func(*http.Request) (*Principal, bool)
	enrich  *enrich.Service // action columns (enrich.go); nil leaves those routes out
	bridge  *bridge.Service // the webhook bridge (bridge.go); nil leaves those routes out
}

// New returns the API handler.
func New(st *store.Store, conns *connection.Service, log *slog.Logger) *Handler {
	return &Handler{store: st, conns: conns, log: log, now: time.Now, roles: map[string]access.Role{}}
}

// Register mounts every route on mux. The whole surface is visible here;
// each API route names the least role that may call it (see roles.go).
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /oauth/callback", h.callback)
	mux.HandleFunc("GET /api/v1/oauth/callback", h.callback)

	api := func(pattern string, min access.Role, fn func(http.ResponseWriter, *http.Request, *Principal)) {
		h.route(mux, pattern, min, fn)
	}
	api("GET /api/v1/providers", access.Viewer, h.providers)
	api("GET /api/v1/integrations", access.Viewer, h.integrations)
	api("GET /api/v1/connections", access.Viewer, h.listConnections)
	api("POST /api/v1/connections", access.Admin, h.connect)
	api("GET /api/v1/connections/{id}", access.Viewer, h.getConnection)
	api("PATCH /api/v1/connections/{id}", access.Member, h.patchConnection)
	api("POST /api/v1/connections/{id}/reconnect", access.Admin, h.reconnect)
	api("POST /api/v1/connections/{id}/test", access.Member, h.test)
	api("POST /api/v1/connections/{id}/disconnect", access.Admin, h.disconnect)
	api("GET /api/v1/events", access.Viewer, h.events)
	h.registerMembers(mux)
	// Routes registered without a role take the contract's or the safe default.
	defaulted := func(pattern string, fn func(http.ResponseWriter, *http.Request, *Principal)) {
		method, _, _ := strings.Cut(pattern, " ")
		h.route(mux, pattern, h.RequiredRole(method, pattern), fn)
	}
	h.registerNotifications(defaulted)
	h.registerWorkspace(mux)
	h.registerProviderWebhooks(mux)
	h.registerData(mux, defaulted)
	h.registerSchemas(mux)
	h.registerEnrich(defaulted)
	h.registerBridge(mux, defaulted)
	h.registerLifecycle(mux)
	api("/api/", access.Viewer, func(w http.ResponseWriter, r *http.Request, _ *Principal) {
		writeProblem(w, Problem{Status: http.StatusNotFound, Detail: "no such API route: " + r.Method + " " + r.URL.Path})
	})
}

// Principal is who is calling, and the role they act with in their workspace.
type Principal struct {
	Workspace *store.Workspace
	Token     *store.Token
	Role      access.Role
}

// Actor names the caller for the audit log and for binding an OAuth flow to
// whoever started it: the member's user id, or the token id for a workspace token.
func (p *Principal) Actor() string {
	if p.Token.UserID != "" {
		return p.Token.UserID
	}
	return p.Token.ID
}

type principalKey struct{}

// WithPrincipal returns a context carrying p (the dashboard's session login uses it too).
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// Authenticate resolves a bearer token value to a principal. A token that
// belongs to a member acts with the lower of its own role and the member's
// current role, and stops working when the membership ends.
func (h *Handler) Authenticate(ctx context.Context, token string) (*Principal, error) {
	t, err := h.store.TokenByHash(ctx, connection.HashToken(token))
	if err != nil {
		return nil, err
	}
	return h.principal(ctx, t)
}

// TokenPrincipal resolves a token by id (a dashboard session's) to a principal,
// with the same checks and role as a bearer token.
func (h *Handler) TokenPrincipal(ctx context.Context, tokenID string) (*Principal, error) {
	t, err := h.store.TokenByID(ctx, tokenID)
	if err != nil {
		return nil, err
	}
	return h.principal(ctx, t)
}

// principal checks that a token is live and computes the role it acts with:
// the lower of its own and its member's current role.
func (h *Handler) principal(ctx context.Context, t *store.Token) (*Principal, error) {
	now := h.now()
	if !t.RevokedAt.IsZero() || (!t.ExpiresAt.IsZero() && now.After(t.ExpiresAt)) {
		return nil, store.ErrNotFound
	}
	role := access.Role(t.Role)
	if t.UserID != "" {
		if t.MemberRole == "" {
			return nil, store.ErrNotFound
		}
		role = access.Lower(role, access.Role(t.MemberRole))
	}
	if !role.Valid() {
		return nil, store.ErrNotFound
	}
	ws, err := h.store.GetWorkspace(ctx, t.WorkspaceID)
	if err != nil {
		return nil, err
	}
	return &Principal{Workspace: ws, Token: t, Role: role}, nil
}

// authenticated resolves the caller and enforces the route's least role. The
// role comes from the pattern the mux matched (r.Pattern), so a route that
// another file registers with authenticated is covered too: unlisted routes
// get the safe default of roles.go.
func (h *Handler) authenticated(fn func(http.ResponseWriter, *http.Request, *Principal)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := r.Context().Value(principalKey{}).(*Principal)
		if !ok {
			token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || token == "" {
				w.Header().Set("WWW-Authenticate", `Bearer realm="patchbay"`)
				writeProblem(w, Problem{Status: http.StatusUnauthorized, Detail: "send an API token as Authorization: Bearer <token> (patchbay demo prints one)"})
				return
			}
			var err error
			if p, err = h.Authenticate(r.Context(), token); err != nil {
				w.Header().Set("WWW-Authenticate", `Bearer realm="patchbay", error="invalid_token"`)
				writeProblem(w, Problem{Status: http.StatusUnauthorized, Detail: "the API token is unknown, revoked or expired"})
				return
			}
		}
		// Every API body is bounded, also on routes that read it their own way.
		r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
		if need := h.RequiredRole(r.Method, r.Pattern); !p.Role.AtLeast(need) {
			writeProblem(w, Problem{Type: "/problems/role", Title: "Your role may not do this", Status: http.StatusForbidden, RequiredRole: string(need),
				Detail: fmt.Sprintf("%s %s needs the %s role or higher; this token acts as %s: ask a workspace admin", r.Method, r.URL.Path, need, p.Role)})
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
	c, est, err := h.conns.Establish(r.Context(), pr.Workspace, connection.ConnectRequest{
		Provider: body.Provider, Config: body.Config, Scopes: body.Scopes, APIKey: body.APIKey, Notes: body.Notes, Actor: pr.Actor()})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := map[string]any{"connection": h.detail(r.Context(), c)}
	if est.AuthorizeURL != "" {
		out["authorize_url"] = est.AuthorizeURL
	}
	if est.SigningSecret != "" {
		out["signing_secret"] = est.SigningSecret // shown this once
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
		Scopes: body.Scopes, APIKey: body.APIKey, AllowAccountChange: body.AllowAccountChange, Actor: pr.Actor()})
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
	c, err := h.conns.Disconnect(r.Context(), pr.Workspace, r.PathValue("id"), pr.Actor())
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
	res, err := h.conns.Complete(r.Context(), connection.CallbackRequest{Query: q, Actor: h.callbackActor(r)})
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
