package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"patchbay/internal/api"
	"patchbay/internal/connection"
	"patchbay/internal/store"
)

const (
	sessionCookie   = "patchbay_session"
	loginCSRFCookie = "patchbay_login_csrf"
	csrfField       = "csrf_token"
	csrfHeader      = "X-CSRF-Token"
	// fetchHeader marks the dashboard's own script calls; they get JSON or
	// fragments instead of redirects. Another site cannot set it without CORS.
	fetchHeader = "X-Requested-With"
)

// session is a logged-in dashboard visitor.
type session struct {
	hash      string
	csrf      string
	principal *api.Principal
}

func randomValue() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func (h *Handler) secureCookie(r *http.Request) bool { return r.TLS != nil || h.cfg.SecureCookies }

// startSession stores a new session for token t and sets its cookie.
func (h *Handler) startSession(w http.ResponseWriter, r *http.Request, workspaceID, tokenID string) error {
	now := h.cfg.Now().UTC()
	if _, err := h.cfg.Store.DeleteExpiredSessions(r.Context(), now); err != nil {
		h.log.WarnContext(r.Context(), "delete expired sessions", "err", err)
	}
	id := randomValue()
	se := &store.Session{IDHash: connection.HashToken(id), WorkspaceID: workspaceID, TokenID: tokenID, CSRFToken: randomValue(),
		CreatedAt: now, ExpiresAt: now.Add(h.cfg.SessionTTL)}
	if err := h.cfg.Store.CreateSession(r.Context(), se); err != nil {
		return err
	}
	// Lax rather than Strict: the main-window OAuth flow comes back from the
	// provider's site and must land logged in. POSTs need the CSRF token anyway.
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: h.secureCookie(r), MaxAge: int(h.cfg.SessionTTL.Seconds())})
	return nil
}

// lookup resolves the session cookie; ok is false without a live session
// whose token is still valid.
func (h *Handler) lookup(ctx context.Context, r *http.Request) (*session, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil, false
	}
	now := h.cfg.Now()
	se, tok, err := h.cfg.Store.SessionByHash(ctx, connection.HashToken(c.Value), now)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			h.log.ErrorContext(ctx, "read session", "err", err)
		}
		return nil, false
	}
	p, err := h.cfg.API.TokenPrincipal(ctx, tok.ID)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			h.log.ErrorContext(ctx, "read session token", "err", err)
		}
		return nil, false
	}
	return &session{hash: se.IDHash, csrf: se.CSRFToken, principal: p}, true
}

// authenticated requires a session; unsafe methods also need the session's
// CSRF token (form field or header) and, when the browser sends one, a
// same-origin Origin header.
func (h *Handler) authenticated(fn func(http.ResponseWriter, *http.Request, *session)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, ok := h.lookup(r.Context(), r)
		if !ok {
			if r.Method == http.MethodGet && r.Header.Get(fetchHeader) == "" {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			http.Error(w, "sign in first: your session ended or never started", http.StatusUnauthorized)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
			if err := r.ParseForm(); err != nil {
				http.Error(w, "could not read the form: "+err.Error(), http.StatusBadRequest)
				return
			}
			if !sameOrigin(r) || !validCSRF(r, s.csrf) {
				h.log.InfoContext(r.Context(), "refused form without a valid CSRF token", "path", r.URL.Path)
				http.Error(w, "this form is missing its security token or comes from another site; reload the page and try again", http.StatusForbidden)
				return
			}
		}
		fn(w, r, s)
	})
}

func validCSRF(r *http.Request, want string) bool {
	got := r.Header.Get(csrfHeader)
	if got == "" {
		got = r.PostFormValue(csrfField)
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// sameOrigin refuses requests whose Origin header names another site.
// Browsers send Origin on every POST; its absence (old clients) falls back to the token alone.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

// localPath keeps redirects on this site: only absolute paths, no scheme-relative "//host".
//
// Browsers read "/\\host", "//host", and paths that become one of those once
// dot segments are removed or tabs and newlines dropped, as another origin;
// so anything but plain printable ASCII, a backslash (raw or encoded), an
// empty or doubled slash after decoding and cleaning, or a scheme, host or
// user falls back.
func localPath(p, fallback string) string {
	for i := 0; i < len(p); i++ {
		if c := p[i]; c < 0x21 || c > 0x7e || c == '\\' {
			return fallback
		}
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") ||
		strings.ContainsAny(u.Path, "\\\x00") || strings.Contains(u.Path, "//") {
		return fallback
	}
	clean := path.Clean(u.Path)
	if strings.HasSuffix(u.Path, "/") && clean != "/" {
		clean += "/"
	}
	out := (&url.URL{Path: clean, RawQuery: u.RawQuery}).String()
	if !strings.HasPrefix(out, "/") || strings.HasPrefix(out, "//") {
		return fallback
	}
	return out
}

// loginPage asks for an API token. A double-submit cookie protects the form
// itself (there is no session to hold a token yet).
func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.lookup(r.Context(), r); ok {
		http.Redirect(w, r, localPath(r.URL.Query().Get("next"), "/"), http.StatusSeeOther)
		return
	}
	h.renderLogin(w, r, http.StatusOK, "")
}

func (h *Handler) renderLogin(w http.ResponseWriter, r *http.Request, status int, msg string) {
	token := randomValue()
	http.SetCookie(w, &http.Cookie{Name: loginCSRFCookie, Value: token, Path: "/login", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: h.secureCookie(r), MaxAge: 3600})
	h.render(w, status, "login", map[string]any{"Title": "Sign in", "CSRF": token, "Error": msg, "Next": localPath(r.FormValue("next"), "")})
}

// login exchanges an API token for a session.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(loginCSRFCookie)
	if err != nil || !sameOrigin(r) || !validCSRF(r, c.Value) {
		h.renderLogin(w, r, http.StatusForbidden, "The sign-in form expired or came from another site. Try again.")
		return
	}
	p, err := h.cfg.API.Authenticate(r.Context(), strings.TrimSpace(r.PostFormValue("token")))
	if err != nil {
		h.renderLogin(w, r, http.StatusUnauthorized, "That token is unknown, revoked or expired.")
		return
	}
	if err := h.startSession(w, r, p.Workspace.ID, p.Token.ID); err != nil {
		h.log.ErrorContext(r.Context(), "start session", "err", err)
		h.renderLogin(w, r, http.StatusInternalServerError, "Could not start a session; the server log has the details.")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: loginCSRFCookie, Path: "/login", MaxAge: -1})
	http.Redirect(w, r, localPath(r.PostFormValue("next"), "/"), http.StatusSeeOther)
}

// loginLink turns a one-time code (patchbay demo prints a link with one) into a session.
func (h *Handler) loginLink(w http.ResponseWriter, r *http.Request) {
	l, err := h.cfg.Store.TakeLoginLink(r.Context(), connection.HashToken(r.URL.Query().Get("code")), h.cfg.Now())
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrConflict) {
			h.log.ErrorContext(r.Context(), "take login link", "err", err)
		}
		h.renderLogin(w, r, http.StatusUnauthorized, "That login link was already used or has expired. Sign in with the API token instead.")
		return
	}
	if err := h.startSession(w, r, l.WorkspaceID, l.TokenID); err != nil {
		h.log.ErrorContext(r.Context(), "start session", "err", err)
		h.renderLogin(w, r, http.StatusInternalServerError, "Could not start a session; the server log has the details.")
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// logout ends the session everywhere (the row is deleted, not just the cookie).
func (h *Handler) logout(w http.ResponseWriter, r *http.Request, s *session) {
	if err := h.cfg.Store.DeleteSession(r.Context(), s.hash); err != nil {
		h.log.ErrorContext(r.Context(), "logout", "err", err)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: h.secureCookie(r)})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// NewLoginLink stores a one-time login code for the API token with value
// token and returns the path that uses it ("/login/link?code=…").
func NewLoginLink(ctx context.Context, st *store.Store, token string, ttl time.Duration) (string, error) {
	t, err := st.TokenByHash(ctx, connection.HashToken(token))
	if err != nil {
		return "", err
	}
	code := randomValue()
	now := time.Now().UTC()
	if err := st.CreateLoginLink(ctx, &store.LoginLink{CodeHash: connection.HashToken(code), WorkspaceID: t.WorkspaceID, TokenID: t.ID,
		CreatedAt: now, ExpiresAt: now.Add(ttl)}); err != nil {
		return "", err
	}
	return "/login/link?code=" + code, nil
}
