package hubspot

import (
	"testing"
	"time"

	"patchbay/internal/connector"
	"patchbay/internal/connector/connectortest"
)

const fuzzToken = "pat-fuzz-secret-token-0123456789"

// FuzzResponses feeds arbitrary HubSpot answers (pages, errors, batch
// results, search results, identity) to every connector call: no panic, no
// hang, errors typed, and the token never echoed in an error.
func FuzzResponses(f *testing.F) {
	seeds := []struct {
		status int
		body   string
	}{
		{200, `{"results":[{"id":"1","properties":{"email":"a@b.c","hs_lastmodifieddate":"2026-01-02T03:04:05Z"},"updatedAt":"2026-01-02T03:04:05Z"}],"paging":{"next":{"after":"2"}}}`},
		{200, `{"results":[],"total":0}`},
		{200, `{"status":"COMPLETE","results":[{"id":"9","properties":{"email":"x@y.z"}}],"errors":[{"status":"error","category":"VALIDATION_ERROR","message":"bad","context":{"email":["x"]}}]}`},
		{207, `{"status":"COMPLETE","results":[],"errors":[{"category":"OBJECT_NOT_FOUND","context":{"id":["1"]}}]}`},
		{200, `{"token":"t","user":"u@x.io","hub_id":42,"hub_domain":"x","scopes":["oauth"],"user_id":1,"expires_in":100}`},
		{401, `{"status":"error","message":"Authentication credentials not found. pat-fuzz-secret-token-0123456789","category":"INVALID_AUTHENTICATION"}`},
		{403, `{"status":"error","category":"MISSING_SCOPES","errors":[{"message":"x","context":{"requiredGranularScopes":["crm.objects.contacts.write"]}}]}`},
		{429, `{"status":"error","policyName":"TEN_SECONDLY_ROLLING","category":"RATE_LIMITS"}`},
		{400, `{"error":"invalid_grant","error_description":"refresh token is invalid"}`},
		{500, `<html>oops</html>`},
		{200, `{"results":[{"id":"1","properties":null}],"paging":{"next":{"after":""}}}`},
		{200, `[1,2,3]`},
		{200, ``},
	}
	for _, s := range seeds {
		f.Add(s.status, []byte(s.body))
	}
	f.Fuzz(fuzzResponses)
}

func fuzzResponses(t *testing.T, status int, body []byte) {
	ctx, s, check := connectortest.FuzzCall(t, status, body, "http://hubspot.fuzz", connector.Credentials{AccessToken: fuzzToken}, fuzzToken)
	c := New()
	_, err := c.Identity(ctx, s)
	check("identity", err)
	page, err := c.List(ctx, s, connector.ListRequest{Object: "contacts"})
	check("list", err)
	if err == nil && page.Next != "" && len(page.Next) > len(body) {
		t.Fatalf("cursor %q longer than the answer", page.Next)
	}
	_, err = c.List(ctx, s, connector.ListRequest{Object: "contacts", Since: time.Unix(1700000000, 0)})
	check("list since", err)
	recs := []connector.Record{{Fields: map[string]any{"email": "a@b.c"}}, {ID: "7", Fields: map[string]any{"firstname": "x"}}, {Fields: map[string]any{"email": "d@e.f"}}}
	res, err := c.Write(ctx, s, connector.WriteRequest{Object: "contacts", MatchField: "email", Records: recs})
	check("write", err)
	if err == nil && len(res) != len(recs) {
		t.Fatalf("write returned %d results for %d records", len(res), len(recs))
	}
	for _, r := range res {
		if r.Err != nil {
			check("write result", r.Err)
		}
	}
	// A non-unique match field goes through search first.
	res, err = c.Write(ctx, s, connector.WriteRequest{Object: "contacts", MatchField: "firstname", Records: recs})
	check("write by search", err)
	if err == nil && len(res) != len(recs) {
		t.Fatalf("write by search returned %d results for %d records", len(res), len(recs))
	}
}

// Inputs the fuzzer found that once panicked or looped forever.
func TestFuzzFindings(t *testing.T) {
	t.Parallel()
	for _, body := range []string{
		`{"results":[],"paging":{"next":{"after":"5"}}}`,
		`{"results":[{"id":"1","properties":{"firstname":"x"}}],"paging":{"next":{"after":"5"}}}`,
	} {
		fuzzResponses(t, 200, []byte(body))
	}
}
