package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"patchbay/internal/api"
)

// problem is the API's problem+json document as the dashboard shows it.
type problem struct {
	Type   string       `json:"type"`
	Title  string       `json:"title"`
	Status int          `json:"status"`
	Detail string       `json:"detail"`
	Reason string       `json:"reason,omitempty"`
	Errors []fieldError `json:"errors,omitempty"`
}

type fieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (p *problem) Error() string { return fmt.Sprintf("%d %s: %s", p.Status, p.Title, p.Detail) }

// FieldErrors maps field names to messages, for showing them next to inputs.
func (p *problem) FieldErrors() map[string]string {
	out := map[string]string{}
	for _, e := range p.Errors {
		out[e.Field] = e.Message
	}
	return out
}

// call sends one request to the JSON API in process, as the session's
// principal, and decodes a 2xx answer into out. Any other answer comes back
// as a *problem carrying the API's own explanation.
func (h *Handler) call(ctx context.Context, s *session, method, path string, body, out any) error {
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequestWithContext(api.WithPrincipal(ctx, s.principal), method, "/api/v1"+path, rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	rec := httptest.NewRecorder()
	h.api.ServeHTTP(rec, req)
	if rec.Code >= 300 {
		p := &problem{Status: rec.Code}
		if err := json.Unmarshal(rec.Body.Bytes(), p); err != nil || p.Detail == "" {
			p.Detail = strings.TrimSpace(rec.Body.String())
		}
		if p.Title == "" {
			p.Title = http.StatusText(rec.Code)
		}
		return p
	}
	if out != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			return fmt.Errorf("decode %s %s: %w", method, path, err)
		}
	}
	return nil
}

// asProblem turns any error into a problem to show; internal errors are
// logged and shown without details.
func (h *Handler) asProblem(ctx context.Context, err error) *problem {
	if p, ok := err.(*problem); ok {
		return p
	}
	h.log.ErrorContext(ctx, "dashboard action failed", "err", err)
	return &problem{Status: http.StatusInternalServerError, Title: "Something went wrong", Detail: "internal error; the server log has the details"}
}

// isFetch reports whether the dashboard's script sent the request (it then
// wants JSON or an HTML fragment rather than a redirect or a page).
func isFetch(r *http.Request) bool { return r.Header.Get(fetchHeader) == "patchbay" }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
