package salesforce

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestSObjectCRUD(t *testing.T) {
	t.Parallel()
	f := New(Options{})
	token := f.IssueToken(f.Kit().DefaultAccount()).AccessToken
	do := func(method, path, body string) (int, string) {
		req := httptest.NewRequest(method, "/services/data/v62.0"+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		f.ServeHTTP(rec, req)
		return rec.Code, strings.TrimSpace(rec.Body.String())
	}
	code, body := do("POST", "/sobjects/Lead", `{"LastName":"Ōtsuka","Company":"Acme"}`)
	var made struct {
		ID      string `json:"id"`
		Success bool   `json:"success"`
		Errors  []any  `json:"errors"`
	}
	if err := json.Unmarshal([]byte(body), &made); code != http.StatusCreated || err != nil || !made.Success || made.Errors == nil || !strings.HasPrefix(made.ID, "00Q") {
		t.Fatalf("create: %d %s", code, body)
	}
	steps := []struct {
		method, path, body string
		status             int
		want               string // a part of the answer
	}{
		{"GET", "/sobjects/Lead/" + made.ID, "", 200, `"Status":"Open - Not Contacted"`},
		{"GET", "/sobjects/lead/" + made.ID + "?fields=LastName", "", 200, `"LastName":"Ōtsuka"`},
		{"GET", "/sobjects/Lead/" + made.ID + "?fields=LastName", "", 200, `"Id":"` + made.ID + `"`},
		{"GET", "/sobjects/Lead/" + made.ID + "?fields=Shoe", "", 400, `"errorCode":"INVALID_FIELD"`},
		{"PATCH", "/sobjects/Lead/" + made.ID, `{"Title":"CEO"}`, 204, ""},
		{"GET", "/sobjects/Lead/" + made.ID + "?fields=Title", "", 200, `"Title":"CEO"`},
		{"PATCH", "/sobjects/Lead/" + made.ID, `{"CreatedDate":"2020-01-01"}`, 400, `[{"message":"Unable to create/update fields: CreatedDate.`},
		{"PATCH", "/sobjects/Lead/" + made.ID, `{"Shoe":1}`, 400, `"errorCode":"INVALID_FIELD","fields":["Shoe"]`},
		{"POST", "/sobjects/Lead", `{"LastName":"x"}`, 400, `[{"message":"Required fields are missing: [Company]","errorCode":"REQUIRED_FIELD_MISSING","fields":["Company"]}]`},
		{"POST", "/sobjects/Lead", `{"LastName":`, 400, `"errorCode":"JSON_PARSER_ERROR"`},
		{"POST", "/sobjects/Widget", `{}`, 404, `[{"message":"The requested resource does not exist","errorCode":"NOT_FOUND"}]`},
		{"GET", "/sobjects/Lead/nosuch", "", 404, `Provided external ID field does not exist or is not accessible: nosuch`},
		{"GET", "/sobjects/Contact/" + made.ID, "", 404, `"errorCode":"NOT_FOUND"`}, // a lead id is no contact's
		{"DELETE", "/sobjects/Lead/" + made.ID, "", 204, ""},
		{"GET", "/sobjects/Lead/" + made.ID, "", 404, `[{"message":"The requested resource does not exist","errorCode":"NOT_FOUND"}]`},
		{"DELETE", "/sobjects/Lead/" + made.ID, "", 404, `"errorCode":"NOT_FOUND"`},
		{"GET", "/query?q=" + strings.ReplaceAll("SELECT COUNT() FROM Lead", " ", "+"), "", 200, `{"done":true,"records":[],"totalSize":0}`},
	}
	for _, s := range steps {
		code, body := do(s.method, s.path, s.body)
		if code != s.status || !strings.Contains(body, s.want) || s.status == 204 && body != "" {
			t.Errorf("%s %s: %d %s; want %d with %s", s.method, s.path, code, body, s.status, s.want)
		}
	}
}
