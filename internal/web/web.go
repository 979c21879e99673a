// Package web serves the dashboard: server-rendered pages from embedded
// templates and static files. It reads and changes state through the JSON
// API's handler in process (api.Handler with the session's principal), so the
// pages show exactly what the API computes and enforce exactly its rules.
package web

import (
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"time"

	"patchbay/internal/api"
	"patchbay/internal/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// contentSecurityPolicy allows only this origin's scripts, styles and images:
// no inline script or style, no framing. form-action is left out on purpose:
// a connect form's answer redirects to the provider's consent page.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"

// Config holds the dashboard's dependencies.
type Config struct {
	Store  *store.Store
	API    *api.Handler
	Logger *slog.Logger
	// Fakes are the provider fakes' handlers by provider id (patchbay demo):
	// their control surface is offered on the integrations page.
	Fakes map[string]http.Handler
	// SecureCookies marks cookies Secure even when TLS ends at a proxy (the
	// public URL is https). Requests that arrive over TLS always get Secure cookies.
	SecureCookies bool
	// SessionTTL is how long a login lasts. Default 7 days.
	SessionTTL time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Handler serves the dashboard.
type Handler struct {
	cfg    Config
	log    *slog.Logger
	api    http.Handler // the JSON API, called in process with the session's principal
	pages  map[string]*template.Template
	fakeID []string
}

// New parses the templates once and returns the dashboard handler.
func New(cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SessionTTL == 0 {
		cfg.SessionTTL = 7 * 24 * time.Hour
	}
	apiMux := http.NewServeMux()
	cfg.API.Register(apiMux)
	h := &Handler{cfg: cfg, log: cfg.Logger, api: apiMux, pages: parsePages()}
	for id := range cfg.Fakes {
		h.fakeID = append(h.fakeID, id)
	}
	sort.Strings(h.fakeID)
	return h
}

// parsePages parses every page with the shared layout and partials. It panics
// on a template error: templates are embedded, so that is a build defect.
func parsePages() map[string]*template.Template {
	shared := []string{"templates/layout.html", "templates/partials.html"}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		if n == shared[0] || n == shared[1] {
			continue
		}
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		pages[name] = template.Must(template.New(name).Funcs(funcs).ParseFS(templateFS, append([]string{n}, shared...)...))
	}
	return pages
}

// Register mounts the dashboard routes. The whole surface is visible here.
func (h *Handler) Register(mux *http.ServeMux) {
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err)
	}
	mux.Handle("GET /static/", secure(http.StripPrefix("/static/", http.FileServerFS(static))))
	mux.Handle("GET /login", secure(http.HandlerFunc(h.loginPage)))
	mux.Handle("POST /login", secure(http.HandlerFunc(h.login)))
	mux.Handle("GET /login/link", secure(http.HandlerFunc(h.loginLink)))
	mux.Handle("GET /oauth/done", secure(http.HandlerFunc(h.oauthDone)))

	page := func(pattern string, fn func(http.ResponseWriter, *http.Request, *session)) {
		mux.Handle(pattern, secure(h.authenticated(fn)))
	}
	page("POST /logout", h.logout)
	page("GET /{$}", h.integrations)
	page("GET /integrations/{provider}/card", h.card)
	page("GET /integrations/{provider}/connect", h.connectPage)
	page("POST /integrations/{provider}/connect", h.connect)
	page("GET /connections/{id}", h.detail)
	page("POST /connections/{id}/test", h.test)
	page("POST /connections/{id}/reconnect", h.reconnect)
	page("GET /connections/{id}/disconnect", h.disconnectPage)
	page("POST /connections/{id}/disconnect", h.disconnect)
	page("POST /connections/{id}/notes", h.notes)
	page("POST /syncs/{id}/run", h.syncNow)
	page("GET /tables", h.tables)
	page("POST /tables", h.createTable)
	page("GET /tables/{id}", h.table)
	page("POST /tables/{id}/rows", h.addRow)
	page("GET /tables/{id}/syncs/new", h.syncSetup)
	page("POST /tables/{id}/syncs", h.createSync)
	page("POST /syncs/{id}/preview", h.preview)
	page("POST /syncs/{id}/pause", h.setSyncPaused(true))
	page("POST /syncs/{id}/resume", h.setSyncPaused(false))
	page("GET /syncs/{id}/edit", h.editSync)
	page("POST /syncs/{id}/edit", h.saveSync)
	page("GET /syncs/{id}/delete", h.deleteSyncPage)
	page("POST /syncs/{id}/delete", h.deleteSync)
	page("GET /tables/{id}/delete", h.deleteTablePage)
	page("POST /tables/{id}/delete", h.deleteTable)
	page("POST /tables/{id}/rows/delete", h.deleteRows)
	page("GET /tables/{id}/columns/new", h.newActionColumn)
	page("POST /tables/{id}/columns", h.createActionColumn)
	page("GET /tables/{id}/columns/{col}/edit", h.editActionColumn)
	page("POST /tables/{id}/columns/{col}/edit", h.saveActionColumn)
	page("POST /tables/{id}/columns/{col}/run", h.rerunActionColumn)
	page("GET /tables/{id}/columns/{col}/delete", h.deleteActionColumnPage)
	page("POST /tables/{id}/columns/{col}/delete", h.deleteActionColumn)
	page("GET /notifications", h.notificationsPage)
	page("POST /notifications", h.createRoute)
	page("POST /notifications/{id}/test", h.testRoute)
	page("POST /notifications/{id}/delete", h.deleteRoute)
	page("GET /plan", h.planPage)
	page("POST /plan", h.changePlan)
	page("GET /tables/{id}/hooks", h.hooksPage)
	page("POST /tables/{id}/hooks", h.createHook)
	page("GET /tables/{id}/hooks/{hook}/revoke", h.revokeHookPage)
	page("POST /tables/{id}/hooks/{hook}/revoke", h.revokeHook)
	page("GET /connections/{id}/remove", h.removeConnectionPage)
	page("POST /connections/{id}/remove", h.removeConnection)
	page("POST /demo/fakes/{provider}/{action}", h.fakeControl)
}

// secure adds the headers every dashboard answer carries.
func secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", contentSecurityPolicy)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}

// render executes a page with status.
func (h *Handler) render(w http.ResponseWriter, status int, name string, data map[string]any) {
	t, ok := h.pages[name]
	if !ok {
		h.log.Error("render: no such page", "page", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := t.ExecuteTemplate(w, name+".html", data); err != nil {
		h.log.Error("render page", "page", name, "err", err)
	}
}

// renderFragment executes a named partial (for fetch requests that refresh part of a page).
func (h *Handler) renderFragment(w http.ResponseWriter, page, partial string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := h.pages[page].ExecuteTemplate(w, partial, data); err != nil {
		h.log.Error("render fragment", "partial", partial, "err", err)
	}
}

// pageData is what every page's layout needs.
func (h *Handler) pageData(s *session, title string) map[string]any {
	return map[string]any{"Title": title, "Nav": "integrations", "Session": s, "CSRF": s.csrf, "Workspace": s.principal.Workspace, "Demo": len(h.fakeID) > 0}
}

// SessionPrincipal is who a request's dashboard session is signed in as (the
// API's OAuth callback checks it against who started the flow).
func (h *Handler) SessionPrincipal(r *http.Request) (*api.Principal, bool) {
	s, ok := h.lookup(r.Context(), r)
	if !ok {
		return nil, false
	}
	return s.principal, true
}

// errorPage shows a refused or failed action with a way back.
func (h *Handler) errorPage(w http.ResponseWriter, s *session, p *problem, back string) {
	d := h.pageData(s, p.Title)
	d["Problem"] = p
	d["Back"] = back
	h.render(w, p.Status, "error", d)
}

var funcs = template.FuncMap{
	"when": func(t *time.Time) string {
		if t == nil || t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"words": func(s string) string { return strings.ReplaceAll(s, "_", " ") },
	"inc":   func(i int) int { return i + 1 },
	// dict passes several values to a partial: dict "Key" value "Key2" value2.
	"dict": func(kv ...any) (map[string]any, error) {
		if len(kv)%2 != 0 {
			return nil, fmt.Errorf("dict: odd number of arguments")
		}
		m := make(map[string]any, len(kv)/2)
		for i := 0; i < len(kv); i += 2 {
			k, ok := kv[i].(string)
			if !ok {
				return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
			}
			m[k] = kv[i+1]
		}
		return m, nil
	},
	"initials": initials,
	"hue":      hue,
	"plural":   plural,
	"list3":    func(a, b, c string) []string { return []string{a, b, c} },
}

// initials are the letters of a provider's logo placeholder: "HubSpot" → "HS",
// "Data provider (generic)" → "DP".
func initials(name string) string {
	var out []rune
	for _, w := range strings.Fields(name) {
		r := []rune(w)
		if len(r) == 0 || r[0] == '(' {
			continue
		}
		out = append(out, r[0])
		// Inner capitals count in one-word names (HubSpot, MailChimp).
		if len(strings.Fields(name)) == 1 {
			for _, c := range r[1:] {
				if c >= 'A' && c <= 'Z' {
					out = append(out, c)
				}
			}
		}
		if len(out) >= 2 {
			break
		}
	}
	if len(out) == 1 && len([]rune(name)) > 1 {
		out = append(out, []rune(name)[1])
	}
	return strings.ToUpper(string(out))
}

// hue picks one of eight logo colours from a provider id, stable across runs.
func hue(id string) int {
	n := 0
	for _, c := range id {
		n = n*31 + int(c)
	}
	if n < 0 {
		n = -n
	}
	return n % 8
}
