package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"

	"patchbay/internal/fakes/fakekit"
)

// fakeControl drives a demo fake's control surface (/_fakes/<p>/_control/*)
// from the dashboard, so a visitor can make a provider misbehave and watch
// its card change.
func (h *Handler) fakeControl(w http.ResponseWriter, r *http.Request, s *session) {
	provider, action := r.PathValue("provider"), r.PathValue("action")
	fake, ok := h.cfg.Fakes[provider]
	if !ok {
		h.actionFailed(w, r, s, &problem{Status: http.StatusNotFound, Title: "Not found", Detail: "no demo fake serves " + provider}, "/")
		return
	}
	var body any
	switch action {
	case "create_record":
		sc, ok := fake.(fakekit.SampleCreator)
		if !ok {
			h.actionFailed(w, r, s, &problem{Status: http.StatusNotFound, Title: "Not found", Detail: "the " + provider + " fake cannot create sample records"}, "/")
			return
		}
		if _, err := sc.CreateSample(r.PostFormValue("account")); err != nil {
			h.actionFailed(w, r, s, &problem{Status: http.StatusBadGateway, Title: "The fake refused", Detail: err.Error()}, "/")
			return
		}
		h.answerAction(w, r, "", provider, "", "record_created", back(r))
		return
	case "outage":
		body = map[string]bool{"on": r.PostFormValue("on") == "true"}
	case "revoke", "expire":
		body = map[string]string{"account": r.PostFormValue("account")}
	case "rate_limit":
		n, err := strconv.Atoi(r.PostFormValue("per_second"))
		if err != nil || n < 0 {
			h.actionFailed(w, r, s, &problem{Status: http.StatusUnprocessableEntity, Title: "Invalid input",
				Detail: "requests per second must be a whole number, 0 to restore the provider's normal limit",
				Errors: []fieldError{{Field: "per_second", Message: "a whole number, 0 for the normal limit"}}}, "/")
			return
		}
		body = map[string]int{"per_second": n}
	default:
		h.actionFailed(w, r, s, &problem{Status: http.StatusNotFound, Title: "Not found",
			Detail: "unknown demo control " + action + "; use create_record, outage, revoke, expire or rate_limit"}, "/")
		return
	}
	b, err := json.Marshal(body)
	if err != nil {
		h.actionFailed(w, r, s, err, "/")
		return
	}
	req, err := http.NewRequestWithContext(r.Context(), "POST", "/_control/"+action, bytes.NewReader(b))
	if err != nil {
		h.actionFailed(w, r, s, err, "/")
		return
	}
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	fake.ServeHTTP(rec, req)
	if rec.Code >= 300 {
		h.actionFailed(w, r, s, &problem{Status: http.StatusBadGateway, Title: "The fake refused", Detail: rec.Body.String()}, "/")
		return
	}
	h.answerAction(w, r, "", provider, "", "control", back(r))
}

// canCreate says whether a provider's demo fake can create a sample record.
func (h *Handler) canCreate(provider string) bool {
	_, ok := h.cfg.Fakes[provider].(fakekit.SampleCreator)
	return ok
}
