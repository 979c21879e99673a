package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"unicode/utf8"

	"patchbay/internal/catalog"
	"patchbay/internal/connection"
	"patchbay/internal/store"
)

// Problem is an RFC 9457 problem document.
type Problem struct {
	Type   string               `json:"type"`
	Title  string               `json:"title"`
	Status int                  `json:"status"`
	Detail string               `json:"detail"`
	Reason string               `json:"reason,omitempty"`
	Errors []catalog.FieldError `json:"errors,omitempty"`

	// RequiredRole names the least role a refused call needs (403).
	RequiredRole string `json:"required_role,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeProblem(w http.ResponseWriter, p Problem) {
	if p.Type == "" {
		p.Type = "about:blank"
	}
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// ProblemFor maps a domain error to a problem document.
func ProblemFor(err error) Problem {
	var ve *connection.ValidationError
	var pe *connection.PlanError
	var me *connection.AccountMismatchError
	var pre *connection.ProviderError
	switch {
	case errors.As(err, &ve):
		return Problem{Type: "/problems/invalid-input", Title: "Invalid input", Status: http.StatusUnprocessableEntity, Detail: ve.Error(), Errors: ve.Fields}
	case errors.As(err, &pe):
		return Problem{Type: "/problems/plan", Title: "Not included in your plan", Status: http.StatusForbidden, Detail: pe.Error()}
	case errors.As(err, &me):
		return Problem{Type: "/problems/account-mismatch", Title: "Different account", Status: http.StatusConflict, Detail: me.Error(), Reason: connection.ReasonAccountMismatch}
	case errors.As(err, &pre):
		if pre.Rejected() {
			return Problem{Type: "/problems/provider-rejected", Title: "The provider refused", Status: http.StatusUnprocessableEntity, Detail: pre.Error()}
		}
		return Problem{Type: "/problems/provider-unavailable", Title: "The provider did not answer", Status: http.StatusBadGateway, Detail: pre.Error() + "; try again in a few minutes"}
	case errors.Is(err, connection.ErrInvalidState):
		return Problem{Type: "/problems/invalid-state", Title: "Invalid authorization state", Status: http.StatusBadRequest, Detail: err.Error()}
	case errors.Is(err, connection.ErrCallbackSignature):
		return Problem{Type: "/problems/callback-signature", Title: "Unsigned redirect", Status: http.StatusBadRequest, Detail: err.Error()}
	case errors.Is(err, connection.ErrConsentDenied):
		return Problem{Type: "/problems/consent-denied", Title: "Access denied", Status: http.StatusBadRequest, Detail: err.Error()}
	case errors.Is(err, store.ErrFull):
		return Problem{Type: "/problems/storage-full", Title: "Storage full", Status: http.StatusInsufficientStorage, Detail: store.ErrFull.Error()}
	case errors.Is(err, ErrInvalidUTF8):
		return Problem{Type: "/problems/invalid-encoding", Title: "Invalid encoding", Status: http.StatusBadRequest, Detail: err.Error()}
	case errors.Is(err, ErrBodyTooLarge):
		return Problem{Type: "/problems/body-too-large", Title: "Request body too large", Status: http.StatusRequestEntityTooLarge, Detail: err.Error()}
	case errors.Is(err, store.ErrNotFound):
		return Problem{Status: http.StatusNotFound, Detail: err.Error()}
	case errors.Is(err, store.ErrConflict):
		return Problem{Status: http.StatusConflict, Detail: err.Error()}
	}
	return Problem{Status: http.StatusInternalServerError, Detail: "internal error; the server log has the details"}
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	p := ProblemFor(err)
	if p.Status >= 500 {
		h.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	} else {
		h.log.InfoContext(r.Context(), "request refused", "method", r.Method, "path", r.URL.Path, "status", p.Status, "err", err)
	}
	writeProblem(w, p)
}

// MaxBody is the largest request body the API reads.
const MaxBody = 1 << 20

// ErrBodyTooLarge is returned for a request body over MaxBody.
var ErrBodyTooLarge = errors.New("the request body is over 1 MiB; send less at once (e.g. rows in batches)")

// ErrInvalidUTF8 is returned for a request body that is not UTF-8: the JSON
// decoder would replace the bad bytes silently and store what was not sent.
var ErrInvalidUTF8 = errors.New("the request body is not valid UTF-8; send text encoded as UTF-8")

// decode reads a JSON body strictly: unknown fields, trailing data and bytes
// that are not UTF-8 are errors.
func decode(r *http.Request, v any) error {
	var tooBig *http.MaxBytesError
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxBody))
	if errors.As(err, &tooBig) {
		return ErrBodyTooLarge
	} else if err != nil {
		return &connection.ValidationError{Fields: []catalog.FieldError{{Field: "body", Message: "the request body could not be read: " + err.Error()}}}
	}
	if !utf8.Valid(body) {
		return ErrInvalidUTF8
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); errors.Is(err, io.EOF) {
		return nil // an empty body means all defaults
	} else if err != nil {
		return &connection.ValidationError{Fields: []catalog.FieldError{{Field: "body", Message: "malformed JSON: " + err.Error()}}}
	}
	if dec.More() {
		return &connection.ValidationError{Fields: []catalog.FieldError{{Field: "body", Message: "unexpected data after the JSON object"}}}
	}
	return nil
}
