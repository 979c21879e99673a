package api

import (
	"net/http"
	"slices"
	"strings"

	"patchbay/internal/access"
)

// Route is one entry of the API's route table.
type Route struct {
	Pattern string      // as given to http.ServeMux, e.g. "POST /api/v1/connections/{id}/test"
	Role    access.Role // the least role that may call it
}

// route registers an authenticated API route with the least role that may call it.
func (h *Handler) route(mux *http.ServeMux, pattern string, min access.Role, fn func(http.ResponseWriter, *http.Request, *Principal)) {
	if !min.Valid() {
		panic("api: route " + pattern + " registered without a valid role")
	}
	h.roles[pattern] = min
	mux.Handle(pattern, h.authenticated(fn))
}

// contractRoles are the least roles of routes of the public contract that
// other parts of Patchbay register (tables, syncs, runs): members edit and run
// syncs and tables. A route found neither in the route table nor here gets
// the safe default of RequiredRole.
func contractRoles() map[string]access.Role {
	return map[string]access.Role{
		"POST /api/v1/tables":                  access.Member,
		"PATCH /api/v1/tables/{id}":            access.Member,
		"POST /api/v1/tables/{id}/rows":        access.Member,
		"PATCH /api/v1/tables/{id}/rows/{row}": access.Member,
		"POST /api/v1/syncs":                   access.Member,
		"PATCH /api/v1/syncs/{id}":             access.Member,
		"POST /api/v1/syncs/{id}/run":          access.Member,
		// Members shape tables: columns, action columns and their runs.
		"POST /api/v1/tables/{id}/columns":           access.Member,
		"PATCH /api/v1/tables/{id}/columns/{col}":    access.Member,
		"DELETE /api/v1/tables/{id}/columns/{col}":   access.Member,
		"POST /api/v1/tables/{id}/columns/{col}/run": access.Member,
		"PATCH /api/v1/tables/{id}/enrichment":       access.Member,
	}
}

// RequiredRole is the least role a request matched by pattern needs: the one
// the route was registered with, the contract's, or by default viewer for
// reads (GET, HEAD) and admin for everything else.
func (h *Handler) RequiredRole(method, pattern string) access.Role {
	if r, ok := h.roles[pattern]; ok {
		return r
	}
	if r, ok := contractRoles()[pattern]; ok {
		return r
	}
	if method == http.MethodGet || method == http.MethodHead {
		return access.Viewer
	}
	return access.Admin
}

// Routes returns the route table: every API route registered through route,
// sorted by pattern.
func (h *Handler) Routes() []Route {
	out := make([]Route, 0, len(h.roles))
	for p, r := range h.roles {
		out = append(out, Route{Pattern: p, Role: r})
	}
	slices.SortFunc(out, func(a, b Route) int { return strings.Compare(a.Pattern, b.Pattern) })
	return out
}

// SetBrowserSession tells the API how to find who a browser is signed in to
// the dashboard as (the OAuth callback checks it against who started the
// flow). Call it before serving.
func (h *Handler) SetBrowserSession(f func(*http.Request) (*Principal, bool)) { h.browser = f }

// callbackActor is who the browser finishing an OAuth flow is signed in as:
// its dashboard session, or a bearer token; "" when it carries neither.
func (h *Handler) callbackActor(r *http.Request) string {
	if h.browser != nil {
		if p, ok := h.browser(r); ok {
			return p.Actor()
		}
	}
	if token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && token != "" {
		if p, err := h.Authenticate(r.Context(), token); err == nil {
			return p.Actor()
		}
	}
	return ""
}
