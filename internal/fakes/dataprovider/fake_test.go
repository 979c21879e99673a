package dataprovider

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"patchbay/internal/fakes/fakekit"
)

type env struct {
	t     *testing.T
	fake  *Fake
	clock *fakekit.Clock
	srv   *httptest.Server
	key   string
}

func newEnv(t *testing.T, o Options) *env {
	t.Helper()
	clock := fakekit.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	o.Now = clock.Now
	f := New(o)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return &env{t: t, fake: f, clock: clock, srv: srv, key: f.IssueKey("acct-demo")}
}

func (e *env) do(key, method, path string, body any) (int, map[string]any, http.Header) {
	e.t.Helper()
	var b []byte
	if s, ok := body.(string); ok {
		b = []byte(s)
	} else if body != nil {
		b, _ = json.Marshal(body)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(b))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out, resp.Header
}

func lookupBody(lookup string, input map[string]string) map[string]any {
	return map[string]any{"lookup": lookup, "input": input}
}

func TestLookups(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	cases := []struct {
		name       string
		body       any
		wantStatus int
		wantFound  bool
		wantData   map[string]any // fields to check
		wantCode   string
	}{
		{"company", lookupBody("company_by_domain", map[string]string{"domain": "https://www.Acme-Tools.com/about"}), 200, true,
			map[string]any{"name": "Acme Tools"}, ""},
		{"company not found", lookupBody("company_by_domain", map[string]string{"domain": "acme.invalid"}), 200, false, nil, ""},
		{"company bad domain", lookupBody("company_by_domain", map[string]string{"domain": "not a domain"}), 400, false, nil, "invalid_input"},
		{"person", lookupBody("person_by_email", map[string]string{"email": "Ann.Lee@acme.com"}), 200, true,
			map[string]any{"first_name": "Ann", "last_name": "Lee", "company": "Acme"}, ""},
		{"person with one name", lookupBody("person_by_email", map[string]string{"email": "bob@beta.io"}), 200, true,
			map[string]any{"first_name": "Bob", "company": "Beta"}, ""},
		{"person not found", lookupBody("person_by_email", map[string]string{"email": "x@nowhere.invalid"}), 200, false, nil, ""},
		{"person bad email", lookupBody("person_by_email", map[string]string{"email": "+@x.com"}), 400, false, nil, "invalid_input"},
		{"contact", lookupBody("contact_by_company", map[string]string{"company": "Acme, Inc."}), 200, true,
			map[string]any{"domain": "acme.com", "email": "contact@acme.com"}, ""},
		{"contact not found", lookupBody("contact_by_company", map[string]string{"company": "Unknown Corp"}), 200, false, nil, ""},
		{"missing input", lookupBody("contact_by_company", map[string]string{"name": "Acme"}), 400, false, nil, "invalid_input"},
		{"unknown lookup", lookupBody("weather", map[string]string{"city": "Berlin"}), 400, false, nil, "unknown_lookup"},
		{"not json", "{", 400, false, nil, "invalid_json"},
	}
	for _, c := range cases {
		status, body, _ := e.do(e.key, "POST", "/v1/lookup", c.body)
		e.clock.Advance(time.Second) // stay under 10 per second
		if status != c.wantStatus {
			t.Errorf("%s: status %d, want %d: %v", c.name, status, c.wantStatus, body)
			continue
		}
		if c.wantCode != "" {
			if code := body["error"].(map[string]any)["code"]; code != c.wantCode {
				t.Errorf("%s: code %v, want %s", c.name, code, c.wantCode)
			}
			continue
		}
		if body["found"] != c.wantFound {
			t.Errorf("%s: found = %v", c.name, body["found"])
			continue
		}
		data, _ := body["data"].(map[string]any)
		for k, want := range c.wantData {
			if data[k] != want {
				t.Errorf("%s: data[%s] = %v, want %v (data %v)", c.name, k, data[k], want, data)
			}
		}
	}
	// Deterministic: the same input gives the same answer.
	_, a, _ := e.do(e.key, "POST", "/v1/lookup", lookupBody("company_by_domain", map[string]string{"domain": "acme.com"}))
	_, b, _ := e.do(e.key, "POST", "/v1/lookup", lookupBody("company_by_domain", map[string]string{"domain": "ACME.com"}))
	data := a["data"].(map[string]any)
	if !reflect.DeepEqual(a, b) || data["phone"] == "" || data["industry"] == "" || data["employees"].(float64) < 5 || data["city"] == "" {
		t.Errorf("answers differ or are incomplete: %v %v", a, b)
	}
}

func TestAccountAndKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{DemoKey: "demo-key-123", Credits: 2})
	cases := []struct {
		name       string
		key        string
		setup      func()
		wantStatus int
		wantCode   string
	}{
		{"issued key", e.key, nil, 200, ""},
		{"demo key", "demo-key-123", nil, 200, ""},
		{"no key", "", nil, 401, "invalid_api_key"},
		{"unknown key", "dpk_nope", nil, 401, "invalid_api_key"},
		{"outage", e.key, func() { e.fake.Kit().SetOutage(true) }, 503, "unavailable"},
		{"after outage", e.key, func() { e.fake.Kit().SetOutage(false) }, 200, ""},
	}
	for _, c := range cases {
		if c.setup != nil {
			c.setup()
		}
		status, body, _ := e.do(c.key, "GET", "/v1/account", nil)
		if status != c.wantStatus {
			t.Fatalf("%s: %d %v", c.name, status, body)
		}
		if c.wantCode != "" && body["error"].(map[string]any)["code"] != c.wantCode {
			t.Errorf("%s: body %v", c.name, body)
		}
		if status == 200 && (body["id"] != "acct-demo" || body["name"] != "Acct Demo" || body["email"] != "acct-demo@example.com" || body["credits_remaining"] != float64(2)) {
			t.Errorf("%s: account %v", c.name, body)
		}
	}
	// Found answers spend credits; when none are left the provider says so.
	for i, want := range []int{200, 200, 402} {
		status, body, _ := e.do(e.key, "POST", "/v1/lookup", lookupBody("company_by_domain", map[string]string{"domain": "acme.com"}))
		if status != want {
			t.Fatalf("lookup %d: %d %v", i, status, body)
		}
	}
	if _, body, _ := e.do(e.key, "GET", "/v1/account", nil); body["credits_remaining"] != float64(0) {
		t.Errorf("credits after use: %v", body)
	}
	e.fake.Kit().Revoke("acct-demo")
	if status, _, _ := e.do(e.key, "GET", "/v1/account", nil); status != 401 {
		t.Errorf("revoked key: %d", status)
	}
}

func TestRateLimitAndControlToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	resp, err := http.Post(e.srv.URL+"/_control/token", "application/json", bytes.NewReader([]byte(`{"account":"acct-2"}`)))
	if err != nil {
		t.Fatal(err)
	}
	var tok map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	key, _ := tok["access_token"].(string)
	if key == "" || tok["refresh_token"] != nil {
		t.Fatalf("control token = %v", tok)
	}
	for i := range DefaultRateLimit {
		if status, _, _ := e.do(key, "GET", "/v1/account", nil); status != 200 {
			t.Fatalf("call %d: %d", i, status)
		}
	}
	status, body, hdr := e.do(key, "GET", "/v1/account", nil)
	if status != 429 || hdr.Get("Retry-After") != "1" || body["error"].(map[string]any)["code"] != "rate_limited" {
		t.Fatalf("11th call in a second: %d %v %v", status, hdr, body)
	}
	// Other accounts have their own window.
	if status, _, _ := e.do(e.key, "GET", "/v1/account", nil); status != 200 {
		t.Errorf("other account: %d", status)
	}
	e.clock.Advance(time.Second)
	if status, _, _ := e.do(key, "GET", "/v1/account", nil); status != 200 {
		t.Errorf("next second: %d", status)
	}
	if s := e.fake.Stats(); s.RequestsBeyondLimit != 1 || s.OverLimit != 0 || s.Accounts["acct-2"].Calls != 12 {
		t.Errorf("stats = %+v", s)
	}
}
