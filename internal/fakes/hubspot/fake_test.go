package hubspot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"patchbay/internal/fakes/fakekit"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type env struct {
	t     *testing.T
	fake  *Fake
	clock *fakekit.Clock
	srv   *httptest.Server
	token string
}

func newEnv(t *testing.T, o Options, scopes ...string) *env {
	t.Helper()
	clock := fakekit.NewClock(t0)
	o.Now = clock.Now
	f := New(o)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return &env{t: t, fake: f, clock: clock, srv: srv, token: f.IssueToken("acct-demo", scopes...).AccessToken}
}

// do calls the fake with the env's token; body is marshalled to JSON.
func (e *env) do(method, path string, body any) (int, map[string]any, http.Header) {
	e.t.Helper()
	return e.doWith(e.token, method, path, body)
}

func (e *env) doWith(token, method, path string, body any) (int, map[string]any, http.Header) {
	e.t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
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

func (e *env) seed(object string, recs ...map[string]any) []fakekit.Record {
	e.t.Helper()
	out, err := e.fake.SeedRecords("acct-demo", object, recs)
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

func ids(body map[string]any) []string {
	var out []string
	results, _ := body["results"].([]any)
	for _, r := range results {
		out = append(out, r.(map[string]any)["id"].(string))
	}
	return out
}

func props(obj any) map[string]any { return obj.(map[string]any)["properties"].(map[string]any) }

func TestOAuthWithStandardClient(t *testing.T) {
	t.Parallel()
	for _, stable := range []bool{false, true} {
		t.Run(fmt.Sprintf("stable=%v", stable), func(t *testing.T) {
			t.Parallel()
			const redirect = "http://patchbay.local/oauth/callback"
			f := New(Options{ClientID: "cid", ClientSecret: "secret", RedirectURIs: []string{redirect}, StableRefreshTokens: stable})
			srv := httptest.NewServer(f)
			defer srv.Close()
			conf := &oauth2.Config{
				ClientID: "cid", ClientSecret: "secret", RedirectURL: redirect,
				Scopes:   []string{"oauth", "crm.objects.contacts.read"},
				Endpoint: oauth2.Endpoint{AuthURL: srv.URL + "/oauth/authorize", TokenURL: srv.URL + "/oauth/v1/token", AuthStyle: oauth2.AuthStyleInParams},
			}
			verifier := oauth2.GenerateVerifier()
			authURL := conf.AuthCodeURL("state-1", oauth2.S256ChallengeOption(verifier))
			noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			resp, err := noFollow.PostForm(authURL, url.Values{"decision": {"approve"}, "account": {"acct-7"}})
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			loc, _ := url.Parse(resp.Header.Get("Location"))
			if resp.StatusCode != http.StatusFound || loc.Query().Get("state") != "state-1" {
				t.Fatalf("consent: %d %s", resp.StatusCode, loc)
			}
			ctx := context.Background()
			tok, err := conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatal(err)
			}
			if tok.Extra("hub_id") != float64(HubID("acct-7")) || tok.TokenType != "bearer" || time.Until(tok.Expiry) < 29*time.Minute {
				t.Errorf("token = %+v hub_id %v", tok, tok.Extra("hub_id"))
			}
			// Refresh with an expired token in hand.
			old := *tok
			tok.Expiry = time.Now().Add(-time.Minute)
			fresh, err := conf.TokenSource(ctx, tok).Token()
			if err != nil {
				t.Fatal(err)
			}
			if rotated := fresh.RefreshToken != old.RefreshToken; rotated == stable {
				t.Fatalf("rotated = %v with stable = %v", rotated, stable)
			}
			// Using the first refresh token again.
			old.Expiry = time.Now().Add(-time.Minute)
			_, err = conf.TokenSource(ctx, &old).Token()
			var re *oauth2.RetrieveError
			if stable {
				if err != nil {
					t.Fatalf("stable refresh token refused: %v", err)
				}
			} else if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" || !strings.Contains(string(re.Body), "BAD_REFRESH_TOKEN") {
				t.Fatalf("reuse: %v", err)
			}
			s := f.Stats()
			wantReused := int64(1)
			if stable {
				wantReused = 0
			}
			if s.RefreshTokensReused != wantReused || s.TokensIssued != 1 || s.Accounts["acct-7"].TokensIssued != 1 {
				t.Errorf("stats = %+v", s)
			}
		})
	}
}

func TestTokenMetadataAndRevocation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{}, "oauth", "crm.objects.contacts.read")
	status, body, _ := e.doWith("", "GET", "/oauth/v1/access-tokens/"+e.token, nil)
	if status != 200 || body["hub_id"] != float64(HubID("acct-demo")) || body["user"] != "acct-demo@example.com" ||
		body["hub_domain"] != "acct-demo.example.com" || body["token_type"] != "access" || body["expires_in"] != float64(1800) ||
		len(body["scopes"].([]any)) != 2 || body["token"] != e.token {
		t.Errorf("metadata: %d %v", status, body)
	}
	if status, body, _ := e.doWith("", "GET", "/oauth/v1/access-tokens/nope", nil); status != 401 || body["category"] != "INVALID_AUTHENTICATION" {
		t.Errorf("unknown token: %d %v", status, body)
	}

	ts := e.fake.IssueToken("acct-demo")
	if status, _, _ := e.doWith("", "DELETE", "/oauth/v1/refresh-tokens/"+ts.RefreshToken, nil); status != 204 {
		t.Fatalf("delete: %d", status)
	}
	if status, _, _ := e.doWith("", "DELETE", "/oauth/v1/refresh-tokens/"+ts.RefreshToken, nil); status != 404 {
		t.Errorf("second delete: %d", status)
	}
	resp, err := http.PostForm(e.srv.URL+"/oauth/v1/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {ts.RefreshToken}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tb map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&tb)
	if resp.StatusCode != 400 || tb["status"] != "BAD_REFRESH_TOKEN" || tb["message"] != "missing or invalid refresh token" || tb["error"] != "invalid_grant" || tb["correlationId"] == "" {
		t.Errorf("refresh after delete: %d %v", resp.StatusCode, tb)
	}
	// Like HubSpot, deleting the refresh token leaves issued access tokens alone.
	if status, _, _ := e.doWith(ts.AccessToken, "GET", "/crm/v3/objects/contacts", nil); status != 200 {
		t.Errorf("access token after refresh-token delete: %d", status)
	}
}

func TestListPaging(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	for i := range 25 {
		e.seed("contacts", map[string]any{"email": fmt.Sprintf("c%02d@acme.com", i), "firstname": fmt.Sprint("C", i)})
	}
	var all []string
	path := "/crm/v3/objects/contacts?limit=10&properties=email,phone"
	for pages := 1; ; pages++ {
		status, body, hdr := e.do("GET", path, nil)
		if status != 200 || hdr.Get("X-HubSpot-RateLimit-Max") != "110" {
			t.Fatalf("page %d: %d %v", pages, status, body)
		}
		first := props(body["results"].([]any)[0])
		if _, ok := first["email"]; !ok || first["phone"] != nil || first["hs_object_id"] == nil || first["lastmodifieddate"] == nil {
			t.Fatalf("properties = %v", first)
		}
		if _, ok := first["phone"]; !ok {
			t.Fatal("a requested known property without a value is null, not absent")
		}
		if _, ok := first["firstname"]; ok {
			t.Fatal("unrequested property returned")
		}
		all = append(all, ids(body)...)
		paging, ok := body["paging"].(map[string]any)
		if !ok {
			if pages != 3 {
				t.Fatalf("%d pages", pages)
			}
			break
		}
		link := paging["next"].(map[string]any)["link"].(string)
		if !strings.HasPrefix(link, "?") || !strings.Contains(link, "properties=") {
			t.Fatalf("link = %q", link)
		}
		path = "/crm/v3/objects/contacts" + link
	}
	if len(all) != 25 || !slices.IsSorted(all) || all[0] != "101" { // same-length ids sort as numbers
		t.Errorf("ids = %v", all)
	}
	// Default properties when none are asked for.
	_, body, _ := e.do("GET", "/crm/v3/objects/0-1?limit=1", nil)
	p := props(body["results"].([]any)[0])
	for _, want := range []string{"email", "firstname", "lastname", "createdate", "lastmodifieddate", "hs_object_id"} {
		if _, ok := p[want]; !ok {
			t.Errorf("default properties lack %s: %v", want, p)
		}
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name         string
		scopes       []string
		setup        func(e *env)
		token        func(e *env) string
		method, path string
		body         any
		wantStatus   int
		wantCategory string
		check        func(t *testing.T, body map[string]any, hdr http.Header)
	}{
		{name: "no token", token: func(*env) string { return "" }, method: "GET", path: "/crm/v3/objects/contacts",
			wantStatus: 401, wantCategory: "INVALID_AUTHENTICATION"},
		{name: "expired", setup: func(e *env) { e.clock.Advance(31 * time.Minute) }, method: "GET", path: "/crm/v3/objects/contacts",
			wantStatus: 401, wantCategory: "EXPIRED_AUTHENTICATION"},
		{name: "revoked", setup: func(e *env) { e.fake.Kit().Revoke("acct-demo") }, method: "GET", path: "/crm/v3/objects/contacts",
			wantStatus: 401, wantCategory: "INVALID_AUTHENTICATION"},
		{name: "missing read scope", scopes: []string{"oauth", "crm.objects.companies.read"}, method: "GET", path: "/crm/v3/objects/contacts",
			wantStatus: 403, wantCategory: "MISSING_SCOPES", check: func(t *testing.T, body map[string]any, _ http.Header) {
				ctx := body["errors"].([]any)[0].(map[string]any)["context"].(map[string]any)
				if ctx["requiredGranularScopes"].([]any)[0] != "crm.objects.contacts.read" || !strings.Contains(body["message"].(string), "crm.objects.contacts.read") {
					t.Errorf("body = %v", body)
				}
			}},
		{name: "missing write scope", scopes: []string{"crm.objects.contacts.read"}, method: "POST", path: "/crm/v3/objects/contacts/batch/create",
			body: map[string]any{"inputs": []any{}}, wantStatus: 403, wantCategory: "MISSING_SCOPES"},
		{name: "unknown object", method: "GET", path: "/crm/v3/objects/widgets", wantStatus: 400, wantCategory: "VALIDATION_ERROR"},
		{name: "limit too high", method: "GET", path: "/crm/v3/objects/contacts?limit=101", wantStatus: 400, wantCategory: "VALIDATION_ERROR"},
		{name: "unknown id", method: "GET", path: "/crm/v3/objects/contacts/999", wantStatus: 404, wantCategory: "OBJECT_NOT_FOUND"},
		{name: "outage", setup: func(e *env) { e.fake.Kit().SetOutage(true) }, method: "GET", path: "/crm/v3/objects/contacts",
			wantStatus: 503, wantCategory: "SERVICE_UNAVAILABLE"},
		{name: "outage on token metadata", setup: func(e *env) { e.fake.Kit().SetOutage(true) }, method: "GET", path: "/oauth/v1/access-tokens/x",
			wantStatus: 503},
		{name: "rate limited", setup: func(e *env) {
			e.fake.Kit().SetRateLimit(1, time.Second)
			e.do("GET", "/crm/v3/objects/contacts", nil)
		}, method: "GET", path: "/crm/v3/objects/contacts", wantStatus: 429, wantCategory: "RATE_LIMITS",
			check: func(t *testing.T, body map[string]any, hdr http.Header) {
				if hdr.Get("Retry-After") != "1" || body["policyName"] != "TEN_SECONDLY_ROLLING" || body["errorType"] != "RATE_LIMIT" {
					t.Errorf("429: %v %v", hdr, body)
				}
			}},
		{name: "too many batch inputs", method: "POST", path: "/crm/v3/objects/contacts/batch/create",
			body: map[string]any{"inputs": make([]map[string]any, 101)}, wantStatus: 400, wantCategory: "VALIDATION_ERROR"},
		{name: "unknown property", method: "POST", path: "/crm/v3/objects/contacts/batch/create",
			body:       map[string]any{"inputs": []any{map[string]any{"properties": map[string]any{"email": "a@x.com", "shoe_size": "9"}}}},
			wantStatus: 400, wantCategory: "VALIDATION_ERROR", check: func(t *testing.T, body map[string]any, _ http.Header) {
				if body["errors"].([]any)[0].(map[string]any)["code"] != "PROPERTY_DOESNT_EXIST" {
					t.Errorf("body = %v", body)
				}
			}},
		{name: "read-only property", method: "POST", path: "/crm/v3/objects/contacts",
			body: map[string]any{"properties": map[string]any{"createdate": "2020-01-01"}}, wantStatus: 400, wantCategory: "VALIDATION_ERROR"},
		{name: "not a number", method: "POST", path: "/crm/v3/objects/companies",
			body: map[string]any{"properties": map[string]any{"numberofemployees": "many"}}, wantStatus: 400, wantCategory: "VALIDATION_ERROR"},
		{name: "duplicate email", setup: func(e *env) { e.seed("contacts", map[string]any{"email": "Ann@Acme.com"}) },
			method: "POST", path: "/crm/v3/objects/contacts", body: map[string]any{"properties": map[string]any{"email": "ann@acme.com"}},
			wantStatus: 409, wantCategory: "CONFLICT", check: func(t *testing.T, body map[string]any, _ http.Header) {
				if !strings.Contains(body["message"].(string), "Existing ID: 101") {
					t.Errorf("body = %v", body)
				}
			}},
		{name: "upsert by non-unique property", method: "POST", path: "/crm/v3/objects/companies/batch/upsert",
			body:       map[string]any{"inputs": []any{map[string]any{"id": "acme.com", "idProperty": "domain", "properties": map[string]any{"name": "Acme"}}}},
			wantStatus: 400, wantCategory: "VALIDATION_ERROR"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, Options{}, c.scopes...)
			if c.setup != nil {
				c.setup(e)
			}
			token := e.token
			if c.token != nil {
				token = c.token(e)
			}
			status, body, hdr := e.doWith(token, c.method, c.path, c.body)
			if status != c.wantStatus {
				t.Fatalf("status %d, want %d: %v", status, c.wantStatus, body)
			}
			if c.wantCategory != "" && (body["category"] != c.wantCategory || body["status"] != "error" || body["correlationId"] == "") {
				t.Errorf("body = %v, want category %s", body, c.wantCategory)
			}
			if c.check != nil {
				c.check(t, body, hdr)
			}
		})
	}
}

func TestSearch(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	seed := []map[string]any{
		{"email": "ann@acme.com", "firstname": "Ann", "segment": "Enterprise", "lifecyclestage": "lead"},    // 101
		{"email": "bob@beta.io", "firstname": "Bob", "segment": "SMB"},                                      // 102
		{"email": "cy@acme.com", "firstname": "Cy", "segment": "Enterprise", "jobtitle": "Head of Sales"},   // 103
		{"email": "dee@gamma.org", "firstname": "Dee"},                                                      // 104
		{"email": "eve@acme.com", "firstname": "Eve", "segment": "enterprise", "jobtitle": "Sales Manager"}, // 105
	}
	for _, s := range seed {
		e.seed("contacts", s)
		e.clock.Advance(time.Minute) // each seeded contact is a minute newer
	}
	e.seed("contacts", map[string]any{"id": "102", "email": "bob@beta.io", "firstname": "Robert"}) // 102 now the newest
	ms := func(d time.Duration) string { return fmt.Sprint(t0.Add(d).UnixMilli()) }
	type F = map[string]any
	group := func(filters ...F) F { return F{"filters": filters} }
	cases := []struct {
		name       string
		body       F
		wantIDs    []string
		wantTotal  int
		wantStatus int
	}{
		{"no filters", F{}, []string{"101", "102", "103", "104", "105"}, 5, 200},
		{"EQ ignores case", F{"filterGroups": []F{group(F{"propertyName": "segment", "operator": "EQ", "value": "ENTERPRISE"})}}, []string{"101", "103", "105"}, 3, 200},
		{"AND within a group", F{"filterGroups": []F{group(F{"propertyName": "segment", "operator": "EQ", "value": "Enterprise"}, F{"propertyName": "jobtitle", "operator": "HAS_PROPERTY"})}}, []string{"103", "105"}, 2, 200},
		{"OR across groups", F{"filterGroups": []F{group(F{"propertyName": "firstname", "operator": "EQ", "value": "Dee"}), group(F{"propertyName": "segment", "operator": "EQ", "value": "Enterprise"}, F{"propertyName": "firstname", "operator": "EQ", "value": "Ann"})}}, []string{"101", "104"}, 2, 200},
		{"NOT_HAS_PROPERTY", F{"filterGroups": []F{group(F{"propertyName": "segment", "operator": "NOT_HAS_PROPERTY"})}}, []string{"102", "104"}, 2, 200},
		{"NEQ", F{"filterGroups": []F{group(F{"propertyName": "firstname", "operator": "NEQ", "value": "ann"})}}, []string{"102", "103", "104", "105"}, 4, 200},
		{"IN", F{"filterGroups": []F{group(F{"propertyName": "firstname", "operator": "IN", "values": []string{"ann", "eve"}})}}, []string{"101", "105"}, 2, 200},
		{"CONTAINS_TOKEN word", F{"filterGroups": []F{group(F{"propertyName": "jobtitle", "operator": "CONTAINS_TOKEN", "value": "sales"})}}, []string{"103", "105"}, 2, 200},
		{"CONTAINS_TOKEN domain", F{"filterGroups": []F{group(F{"propertyName": "email", "operator": "CONTAINS_TOKEN", "value": "*@acme.com"})}}, []string{"101", "103", "105"}, 3, 200},
		{"GTE epoch millis on last modified", F{"filterGroups": []F{group(F{"propertyName": "lastmodifieddate", "operator": "GTE", "value": ms(3 * time.Minute)})}}, []string{"102", "104", "105"}, 3, 200},
		{"LT ISO date on createdate", F{"filterGroups": []F{group(F{"propertyName": "createdate", "operator": "LT", "value": t0.Add(2 * time.Minute).Format(time.RFC3339)})}}, []string{"101", "102"}, 2, 200},
		{"BETWEEN ids", F{"filterGroups": []F{group(F{"propertyName": "hs_object_id", "operator": "BETWEEN", "value": "102", "highValue": 104})}}, []string{"102", "103", "104"}, 3, 200},
		{"sorted by last modified", F{"sorts": []F{{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}}}, []string{"101", "103", "104", "105", "102"}, 5, 200},
		{"sorted descending, string form", F{"sorts": []string{"-firstname"}}, []string{"102", "105", "104", "103", "101"}, 5, 200},
		{"paging", F{"limit": 2, "after": "2"}, []string{"103", "104"}, 5, 200},
		{"query", F{"query": "beta"}, []string{"102"}, 1, 200},
		{"limit too high", F{"limit": 201}, nil, 0, 400},
		{"beyond 10000", F{"after": "10000"}, nil, 0, 400},
		{"unknown property", F{"filterGroups": []F{group(F{"propertyName": "shoe", "operator": "EQ", "value": "9"})}}, nil, 0, 400},
		{"unknown operator", F{"filterGroups": []F{group(F{"propertyName": "email", "operator": "LIKE", "value": "x"})}}, nil, 0, 400},
		{"EQ without value", F{"filterGroups": []F{group(F{"propertyName": "email", "operator": "EQ"})}}, nil, 0, 400},
		{"two sorts", F{"sorts": []string{"email", "firstname"}}, nil, 0, 400},
		{"six groups", F{"filterGroups": []F{group(), group(), group(), group(), group(), group()}}, nil, 0, 400},
	}
	for _, c := range cases {
		status, body, _ := e.do("POST", "/crm/v3/objects/contacts/search", c.body)
		e.clock.Advance(time.Second) // stay under the search limit of 5 per second
		if status != c.wantStatus {
			t.Errorf("%s: status %d, want %d: %v", c.name, status, c.wantStatus, body)
			continue
		}
		if status != 200 {
			continue
		}
		if got := ids(body); body["total"] != float64(c.wantTotal) || (c.wantIDs != nil && !slices.Equal(got, c.wantIDs)) {
			t.Errorf("%s: total %v ids %v, want %d %v", c.name, body["total"], got, c.wantTotal, c.wantIDs)
		}
	}
	_, body, _ := e.do("POST", "/crm/v3/objects/contacts/search", F{"limit": 2})
	if next := body["paging"].(map[string]any)["next"].(map[string]any); next["after"] != "2" {
		t.Errorf("paging = %v", body["paging"])
	}
}

func TestSearchRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	for i := range 6 {
		status, body, hdr := e.do("POST", "/crm/v3/objects/contacts/search", map[string]any{})
		if i < 5 && status != 200 {
			t.Fatalf("search %d: %d", i, status)
		}
		if i == 5 && (status != 429 || body["policyName"] != "SECONDLY" || hdr.Get("Retry-After") != "1") {
			t.Fatalf("sixth search in a second: %d %v", status, body)
		}
	}
	// Plain reads are not held back by the search limit.
	if status, _, _ := e.do("GET", "/crm/v3/objects/contacts", nil); status != 200 {
		t.Errorf("list after search limit: %d", status)
	}
	if s := e.fake.Stats(); s.RateLimited != 1 || s.RequestsBeyondLimit != 0 || s.OverLimit != 0 {
		t.Errorf("stats = %+v", s)
	}
}

func TestRollingRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	for i := range 110 {
		status, _, hdr := e.do("GET", "/crm/v3/objects/contacts", nil)
		if status != 200 || hdr.Get("X-HubSpot-RateLimit-Remaining") != fmt.Sprint(109-i) {
			t.Fatalf("call %d: %d remaining %s", i, status, hdr.Get("X-HubSpot-RateLimit-Remaining"))
		}
		e.clock.Advance(50 * time.Millisecond)
	}
	// 110 calls in 5.5 s: the window holds them all for another 4.5 s.
	status, _, hdr := e.do("GET", "/crm/v3/objects/contacts", nil)
	if status != 429 || hdr.Get("Retry-After") != "5" {
		t.Fatalf("111th: %d Retry-After %s", status, hdr.Get("Retry-After"))
	}
	e.clock.Advance(4500 * time.Millisecond)
	if status, _, _ := e.do("GET", "/crm/v3/objects/contacts", nil); status != 200 {
		t.Fatalf("after the first call left the window: %d", status)
	}
	if s := e.fake.Stats(); s.RequestsBeyondLimit != 1 || s.OverLimit != 0 || s.Accounts["acct-demo"].Calls != 112 {
		t.Errorf("stats = %+v", s)
	}
}

func TestBatchWrites(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	type F = map[string]any
	inputs := func(n int, mk func(i int) F) F {
		var in []F
		for i := range n {
			in = append(in, mk(i))
		}
		return F{"inputs": in}
	}

	status, body, _ := e.do("POST", "/crm/v3/objects/contacts/batch/create", inputs(3, func(i int) F {
		return F{"properties": F{"email": fmt.Sprintf("n%d@x.com", i), "firstname": "N"}, "objectWriteTraceId": fmt.Sprint(i)}
	}))
	if status != 201 || body["status"] != "COMPLETE" || len(ids(body)) != 3 {
		t.Fatalf("create: %d %v", status, body)
	}
	// Results are unordered; the trace id says which input each answers.
	for _, r := range body["results"].([]any) {
		m := r.(map[string]any)
		if props(m)["email"] != "n"+m["objectWriteTraceId"].(string)+"@x.com" {
			t.Errorf("result %v does not match its trace id", m)
		}
	}

	status, body, _ = e.do("POST", "/crm/v3/objects/contacts/batch/upsert", F{"inputs": []F{
		{"id": "N0@X.com", "idProperty": "email", "properties": F{"lastname": "Zero"}, "objectWriteTraceId": "a"},
		{"id": "new@x.com", "idProperty": "email", "properties": F{"lastname": "New"}, "objectWriteTraceId": "b"},
	}})
	if status != 200 {
		t.Fatalf("upsert: %d %v", status, body)
	}
	for _, r := range body["results"].([]any) {
		m := r.(map[string]any)
		if wantNew := m["objectWriteTraceId"] == "b"; m["new"] != wantNew {
			t.Errorf("upsert result %v: new should be %v", m, wantNew)
		}
	}
	if got := e.fake.Records("acct-demo", "contacts"); len(got) != 4 || got[0].Fields["lastname"] != "Zero" || got[3].Fields["email"] != "new@x.com" {
		t.Errorf("records after upsert = %+v", got)
	}

	before := e.fake.Records("acct-demo", "contacts")
	status, body, _ = e.do("POST", "/crm/v3/objects/contacts/batch/update", F{"inputs": []F{
		{"id": "101", "properties": F{"firstname": "Changed"}},
		{"id": "999", "properties": F{"firstname": "Ghost"}},
	}})
	if status != 404 || body["category"] != "OBJECT_NOT_FOUND" || body["context"].(map[string]any)["ids"].([]any)[0] != "999" {
		t.Fatalf("update with an unknown id: %d %v", status, body)
	}
	if after := e.fake.Records("acct-demo", "contacts"); after[0].Fields["firstname"] != before[0].Fields["firstname"] {
		t.Error("a refused batch wrote something")
	}
	status, body, _ = e.do("POST", "/crm/v3/objects/contacts/batch/update", F{"inputs": []F{{"id": "101", "properties": F{"firstname": "Changed", "phone": 5551234}}}})
	if status != 200 || props(body["results"].([]any)[0])["phone"] != "5551234" {
		t.Fatalf("update: %d %v", status, body)
	}
	status, body, _ = e.do("POST", "/crm/v3/objects/contacts/batch/update", F{"inputs": []F{{"id": "102", "properties": F{"email": "n0@x.com"}}}})
	if status != 409 {
		t.Errorf("update onto another contact's email: %d %v", status, body)
	}

	status, body, _ = e.do("POST", "/crm/v3/objects/contacts/batch/read", F{"properties": []string{"firstname"}, "inputs": []F{{"id": "101"}, {"id": "404"}}})
	if status != 207 || body["numErrors"] != float64(1) || len(ids(body)) != 1 || props(body["results"].([]any)[0])["firstname"] != "Changed" {
		t.Errorf("batch read: %d %v", status, body)
	}
	status, body, _ = e.do("POST", "/crm/v3/objects/contacts/batch/read", F{"idProperty": "email", "inputs": []F{{"id": "NEW@x.com"}}})
	if status != 200 || ids(body)[0] != "104" {
		t.Errorf("batch read by email: %d %v", status, body)
	}
	status, body, _ = e.do("GET", "/crm/v3/objects/contacts/new@x.com?idProperty=email&properties=lastname", nil)
	if status != 200 || props(body)["lastname"] != "New" {
		t.Errorf("get by email: %d %v", status, body)
	}
}

func TestProperties(t *testing.T) {
	t.Parallel()
	cases := []struct {
		scope      string
		object     string
		wantStatus int
	}{
		{"crm.schemas.contacts.read", "contacts", 200},
		{"crm.objects.companies.read", "companies", 200},
		{"crm.objects.contacts.read", "companies", 403},
	}
	for _, c := range cases {
		t.Run(c.scope+"/"+c.object, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, Options{}, c.scope)
			status, body, _ := e.do("GET", "/crm/v3/properties/"+c.object, nil)
			if status != c.wantStatus {
				t.Fatalf("%d %v", status, body)
			}
			if status != 200 {
				return
			}
			names := map[string]map[string]any{}
			for _, p := range body["results"].([]any) {
				m := p.(map[string]any)
				names[m["name"].(string)] = m
			}
			if _, ok := names["hs_object_id"]; !ok || names["createdate"]["modificationMetadata"].(map[string]any)["readOnlyValue"] != true {
				t.Errorf("properties = %v", names)
			}
		})
	}
}

// TestMountedUnderPrefix checks the demo's mounting: consent posts back to
// the same URL and paging links stay under the prefix.
func TestMountedUnderPrefix(t *testing.T) {
	t.Parallel()
	f := New(Options{})
	mux := http.NewServeMux()
	mux.Handle("/_fakes/hubspot/", http.StripPrefix("/_fakes/hubspot", f))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for range 3 {
		if _, err := f.SeedRecords("acct-demo", "contacts", []map[string]any{{"email": "x@y.z"}}); err != nil {
			t.Fatal(err)
		}
	}
	tok := f.IssueToken("acct-demo").AccessToken
	base, _ := url.Parse(srv.URL + "/_fakes/hubspot/crm/v3/objects/contacts?limit=2")
	req, _ := http.NewRequest("GET", base.String(), nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	link, _ := url.Parse(body["paging"].(map[string]any)["next"].(map[string]any)["link"].(string))
	if next := base.ResolveReference(link); next.Path != "/_fakes/hubspot/crm/v3/objects/contacts" {
		t.Errorf("next page resolves to %s", next)
	}

	page, err := http.Get(srv.URL + "/_fakes/hubspot/oauth/authorize?client_id=c&redirect_uri=http%3A%2F%2Fapp%2Fcb&scope=oauth")
	if err != nil {
		t.Fatal(err)
	}
	page.Body.Close()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = noFollow.PostForm(srv.URL+"/_fakes/hubspot/oauth/authorize?client_id=c&redirect_uri=http%3A%2F%2Fapp%2Fcb&scope=oauth", url.Values{"decision": {"approve"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if page.StatusCode != 200 || resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), "http://app/cb?code=") {
		t.Errorf("consent under prefix: %d %d %s", page.StatusCode, resp.StatusCode, resp.Header.Get("Location"))
	}
	if _, err := f.SeedRecords("acct-demo", "deals", nil); err == nil {
		t.Error("seeding an unknown object must fail")
	}
}
