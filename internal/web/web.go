// Package web serves the dashboard: server-rendered pages from embedded
// templates and static files, over the same domain services as the API.
package web

import (
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"sort"
	"time"

	"patchbay/internal/api"
	"patchbay/internal/connection"
	"patchbay/internal/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

const sessionCookie = "patchbay_session"

// Handler serves the dashboard.
type Handler struct {
	store *store.Store
	conns *connection.Service
	api   *api.Handler
	log   *slog.Logger
	fakes []string
	pages *template.Template
}

// New parses the templates once.
func New(st *store.Store, conns *connection.Service, apiH *api.Handler, log *slog.Logger, fakes []string) *Handler {
	sort.Strings(fakes)
	funcs := template.FuncMap{
		"when": func(t *time.Time) string {
			if t == nil {
				return "—"
			}
			return t.UTC().Format("2006-01-02 15:04 UTC")
		},
		"explain": connection.Explain,
	}
	pages := template.Must(template.New("").Funcs(funcs).ParseFS(templateFS, "templates/*.html"))
	return &Handler{store: st, conns: conns, api: apiH, log: log, fakes: fakes, pages: pages}
}

// Register mounts the dashboard routes.
func (h *Handler) Register(mux *http.ServeMux) {
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /login", h.loginPage)
	mux.HandleFunc("POST /login", h.login)
	mux.HandleFunc("GET /oauth/done", h.oauthDone)
	mux.HandleFunc("GET /{$}", h.page("integrations"))
}

func (h *Handler) render(w http.ResponseWriter, name string, data map[string]any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'")
	if err := h.pages.ExecuteTemplate(w, name+".html", data); err != nil {
		h.log.Error("render page", "page", name, "err", err)
	}
}

func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	h.render(w, "login", map[string]any{"Title": "Sign in"})
}

// login exchanges an API token for a session cookie (HttpOnly, SameSite=Strict,
// so other sites cannot ride on it).
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	token := r.PostFormValue("token")
	if _, err := h.api.Authenticate(r.Context(), token); err != nil {
		w.WriteHeader(http.StatusUnauthorized)
		h.render(w, "login", map[string]any{"Title": "Sign in", "Error": "That token is unknown, revoked or expired."})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// SessionPrincipal is who a request's dashboard session is signed in as.
func (h *Handler) SessionPrincipal(r *http.Request) (*api.Principal, bool) { return h.principal(r) }

func (h *Handler) principal(r *http.Request) (*api.Principal, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil, false
	}
	p, err := h.api.Authenticate(r.Context(), c.Value)
	return p, err == nil
}

func (h *Handler) page(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, ok := h.principal(r)
		if !ok {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		conns, err := h.store.ListConnections(r.Context(), p.Workspace.ID)
		if err != nil {
			http.Error(w, "could not read connections", http.StatusInternalServerError)
			return
		}
		type card struct {
			ID, Name, Tier, Auth string
			Connections          []*store.Connection
		}
		var cards []card
		for _, pr := range h.conns.Catalog().All() {
			c := card{ID: pr.ID, Name: pr.Name, Tier: pr.Tier, Auth: pr.Auth}
			for _, cn := range conns {
				if cn.Provider == pr.ID {
					c.Connections = append(c.Connections, cn)
				}
			}
			cards = append(cards, c)
		}
		h.render(w, name, map[string]any{"Title": "Integrations", "Cards": cards, "Workspace": p.Workspace, "Fakes": h.fakes,
			"Health": connection.Health})
	}
}

// oauthDone is where the OAuth callback lands: in a popup it tells the opener
// and closes; in the main window it shows the result and links back.
func (h *Handler) oauthDone(w http.ResponseWriter, r *http.Request) {
	h.render(w, "done", map[string]any{"Title": "Connected", "Connection": r.URL.Query().Get("connection")})
}
