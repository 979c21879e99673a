package mailchimp

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestPing(t *testing.T) {
	t.Parallel()
	f := New(Options{})
	for _, tc := range []struct {
		token  string
		status int
		want   string
	}{
		{f.IssueToken(f.Kit().DefaultAccount()), http.StatusOK, "Everything's Chimpy!"},
		{"wrong", http.StatusUnauthorized, ""},
	} {
		req := httptest.NewRequest(http.MethodGet, "/3.0/ping", nil)
		req.Header.Set("Authorization", "Bearer "+tc.token)
		rec := httptest.NewRecorder()
		f.ServeHTTP(rec, req)
		var body struct {
			Health string `json:"health_status"`
		}
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		if rec.Code != tc.status || body.Health != tc.want {
			t.Errorf("ping with %q: %d %s", tc.token, rec.Code, rec.Body)
		}
	}
}
