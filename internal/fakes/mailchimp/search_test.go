package mailchimp

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// call sends one API request to f as account's OAuth token and decodes the answer.
func call(t *testing.T, f *Fake, method, path, body string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+f.IssueToken(f.Kit().DefaultAccount()))
	rec := httptest.NewRecorder()
	f.ServeHTTP(rec, req)
	var out map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	return rec.Code, out
}

func TestSearchBatchAndPartial(t *testing.T) {
	t.Parallel()
	f := New(Options{})
	list := f.Audiences(f.Kit().DefaultAccount())[0].ID
	f.SeedMembers(f.Kit().DefaultAccount(), list, []map[string]any{
		{"email_address": "ann@example.com", "status": "subscribed", "FNAME": "Ann", "LNAME": "Lee"},
		{"email_address": "annabel@example.org", "status": "subscribed", "FNAME": "Annabel"},
	})
	code, body := call(t, f, "POST", "/3.0/lists/"+list, `{"members":[
		{"email_address":"ann@example.com","status":"unsubscribed"},
		{"email_address":"new@example.net","status":"subscribed","merge_fields":{"FNAME":"Neu"}},
		{"email_address":"nobody","status":"subscribed"},
		{"email_address":"x@example.net"}]}`)
	if code != http.StatusOK || body["total_created"] != 1.0 || body["total_updated"] != 0.0 || body["error_count"] != 3.0 {
		t.Fatalf("batch subscribe: %d %v", code, body)
	}
	var codes []string
	for _, e := range body["errors"].([]any) {
		codes = append(codes, e.(map[string]any)["error_code"].(string))
	}
	if got := strings.Join(codes, ","); got != "ERROR_CONTACT_EXISTS,ERROR_GENERIC,ERROR_GENERIC" {
		t.Errorf("batch errors %s", got)
	}
	if _, body := call(t, f, "POST", "/3.0/lists/"+list, `{"members":[{"email_address":"ANN@example.com","status":"unsubscribed"}],"update_existing":true}`); body["total_updated"] != 1.0 {
		t.Errorf("update_existing: %v", body)
	}

	cases := []struct {
		path       string
		exact, all int
	}{
		{"/3.0/search-members?query=ann@example.com", 1, 0},     // the address; "annabel" does not contain it
		{"/3.0/search-members?query=ann&list_id=" + list, 1, 1}, // Ann is exact, Annabel contains it
		{"/3.0/search-members?query=example", 0, 3},             //
		{"/3.0/search-members?query=Ann%20Lee", 1, 0},           // the full name
		{"/3.0/search-members?query=zzz", 0, 0},                 //
	}
	for _, c := range cases {
		code, body := call(t, f, "GET", c.path, "")
		exact, _ := body["exact_matches"].(map[string]any)
		full, _ := body["full_search"].(map[string]any)
		if code != http.StatusOK || exact["total_items"] != float64(c.exact) || full["total_items"] != float64(c.all) {
			t.Errorf("%s: %d %v", c.path, code, body)
		}
	}
	if code, body := call(t, f, "GET", "/3.0/search-members", ""); code != http.StatusBadRequest || body["title"] != "Invalid Resource" {
		t.Errorf("no query: %d %v", code, body)
	}

	partials := []struct {
		query, want string
	}{
		{"fields=total_items", `{"total_items":3}`},
		{"fields=members.email_address,total_items&status=unsubscribed", `{"members":[{"email_address":"ANN@example.com"}],"total_items":1}`},
		{"fields=members.merge_fields.FNAME&status=unsubscribed", `{"members":[{"merge_fields":{"FNAME":"Ann"}}]}`},
		{"fields=list_id,members&exclude_fields=members&count=1", `{"list_id":"` + list + `"}`},
	}
	for _, p := range partials {
		req := httptest.NewRequest("GET", "/3.0/lists/"+list+"/members?"+p.query, nil)
		req.Header.Set("Authorization", "Bearer "+f.IssueToken(f.Kit().DefaultAccount()))
		rec := httptest.NewRecorder()
		f.ServeHTTP(rec, req)
		if got := strings.TrimSpace(rec.Body.String()); got != p.want {
			t.Errorf("%s: %s, want %s", p.query, got, p.want)
		}
	}
	// Errors are never trimmed.
	if code, body := call(t, f, "GET", "/3.0/lists/nosuch/members?fields=total_items", ""); code != http.StatusNotFound || body["title"] != "Resource Not Found" {
		t.Errorf("404 with fields: %d %v", code, body)
	}
}
