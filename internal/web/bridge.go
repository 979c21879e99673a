package web

import (
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The webhook bridge page of a table: its inbound URLs (hooks), one made
// here with its token and signing secret shown once, a copy-ready example
// request, and revoking one.

type hookInfo struct {
	ID            string     `json:"id"`
	URL           string     `json:"url"`
	SigningSecret string     `json:"signing_secret"`
	Signed        bool       `json:"signed"`
	MatchColumn   string     `json:"match_column"`
	CreatedAt     *time.Time `json:"created_at"`
	LastUsedAt    *time.Time `json:"last_used_at"`
}

// Example is a shell command that posts a row to the new hook, signed when it is.
func (hk *hookInfo) Example(t tableInfo) string {
	body := exampleBody(t)
	if !hk.Signed {
		return "curl -X POST '" + hk.URL + "' \\\n  -H 'Content-Type: application/json' \\\n  -d '" + body + "'"
	}
	return "body='" + body + "'\n" +
		"ts=$(date +%s)\n" +
		"sig=$(printf '%s.%s' \"$ts\" \"$body\" | openssl dgst -sha256 -hmac '" + hk.SigningSecret + "' | sed 's/^.* //')\n" +
		"curl -X POST '" + hk.URL + "' \\\n  -H 'Content-Type: application/json' \\\n" +
		"  -H \"X-Patchbay-Timestamp: $ts\" -H \"X-Patchbay-Signature: sha256=$sig\" \\\n  -d \"$body\""
}

// exampleBody is a JSON row for the table: a sample value per text column.
func exampleBody(t tableInfo) string {
	var parts []string
	for _, c := range t.Columns {
		v := `"example"`
		switch {
		case c.Type == "number":
			v = "1"
		case c.Type == "boolean":
			v = "true"
		case strings.Contains(strings.ToLower(c.Name), "mail"):
			v = `"ann@example.com"`
		case c.Type == "json" || c.Type == "datetime":
			continue
		}
		parts = append(parts, `"`+c.Name+`":`+v)
		if len(parts) == 3 {
			break
		}
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func (h *Handler) hooksPage(w http.ResponseWriter, r *http.Request, s *session) {
	h.renderHooks(w, r, s, http.StatusOK, nil, nil)
}

func (h *Handler) renderHooks(w http.ResponseWriter, r *http.Request, s *session, status int, made *hookInfo, p *problem) {
	id := r.PathValue("id")
	var tb tableInfo
	if err := h.call(r.Context(), s, "GET", "/tables/"+url.PathEscape(id), nil, &tb); err != nil {
		h.errorPage(w, s, h.asProblem(r.Context(), err), "/tables")
		return
	}
	var out struct {
		Hooks []hookInfo `json:"hooks"`
	}
	if err := h.call(r.Context(), s, "GET", "/tables/"+url.PathEscape(id)+"/hooks", nil, &out); err != nil {
		h.errorPage(w, s, h.asProblem(r.Context(), err), "/tables/"+url.PathEscape(id))
		return
	}
	d := h.pageData(s, "Webhook bridge of "+tb.Name)
	d["Nav"] = "tables"
	d["T"], d["Hooks"], d["Made"], d["Problem"] = tb, out.Hooks, made, p
	d["Notice"] = notices[r.URL.Query().Get("notice")]
	if p != nil {
		d["Errors"] = p.FieldErrors()
	}
	if made != nil {
		d["Example"] = made.Example(tb)
		// The token and secret are in this answer only: keep it out of caches and history.
		w.Header().Set("Cache-Control", "no-store")
	}
	h.render(w, status, "hooks", d)
}

func (h *Handler) createHook(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	var hk hookInfo
	body := map[string]any{"match_column": r.PostFormValue("match_column"), "signed": r.PostFormValue("signed") != ""}
	if err := h.call(r.Context(), s, "POST", "/tables/"+url.PathEscape(id)+"/hooks", body, &hk); err != nil {
		p := h.asProblem(r.Context(), err)
		if p.Status != http.StatusUnprocessableEntity {
			h.errorPage(w, s, p, "/tables/"+url.PathEscape(id)+"/hooks")
			return
		}
		h.renderHooks(w, r, s, p.Status, nil, p)
		return
	}
	// The API is called in process, without this request's host: the URL's
	// path is the API's, its origin the one the browser used.
	if u, err := url.Parse(hk.URL); err == nil {
		scheme := "http"
		if r.TLS != nil || h.cfg.SecureCookies {
			scheme = "https"
		}
		hk.URL = scheme + "://" + r.Host + u.Path
	}
	h.renderHooks(w, r, s, http.StatusCreated, &hk, nil)
}

func (h *Handler) revokeHookPage(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	back := "/tables/" + url.PathEscape(id) + "/hooks"
	var tb tableInfo
	if err := h.call(r.Context(), s, "GET", "/tables/"+url.PathEscape(id), nil, &tb); err != nil {
		h.errorPage(w, s, h.asProblem(r.Context(), err), "/tables")
		return
	}
	h.renderConfirm(w, s, http.StatusOK, &confirmPage{
		Title:  "Revoke this webhook URL of " + tb.Name + "?",
		Crumbs: []crumb{{"/tables", "Tables"}, {"/tables/" + url.PathEscape(id), tb.Name}, {back, "Webhook bridge"}},
		Lead:   "Whatever posts to it from now on is refused (404). Give the senders a new URL first if they should keep sending.",
		Goes:   []string{"the URL, its token and its signing secret"},
		Keeps:  []string{"the rows it brought in"},
		Action: back + "/" + url.PathEscape(r.PathValue("hook")) + "/revoke", Button: "Revoke URL", Return: back,
	}, nil)
}

func (h *Handler) revokeHook(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	back := "/tables/" + url.PathEscape(id) + "/hooks"
	if err := h.call(r.Context(), s, "DELETE", "/tables/"+url.PathEscape(id)+"/hooks/"+url.PathEscape(r.PathValue("hook")), nil, nil); err != nil {
		h.errorPage(w, s, h.asProblem(r.Context(), err), back)
		return
	}
	http.Redirect(w, r, back+"?notice=hook_revoked", http.StatusSeeOther)
}
