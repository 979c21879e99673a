package hubspot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"patchbay/internal/connector"
)

// canned answers every request with the same status and body.
type canned struct {
	status int
	body   []byte
}

func (c canned) RoundTrip(r *http.Request) (*http.Response, error) {
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{StatusCode: c.status, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader(c.body)), Request: r}, nil
}

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
	{
		if status < 100 || status > 599 {
			status = 200 + (status%400+400)%400
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		// A loop that never calls the network again would not see the
		// context; the watchdog turns such a hang into a reported crash.
		wd := time.AfterFunc(3*time.Second, func() { panic(fmt.Sprintf("hang: status %d body %q", status, body)) })
		defer wd.Stop()
		s := connector.Session{HTTP: &http.Client{Transport: canned{status, body}}, BaseURL: "http://hubspot.fuzz",
			Creds: connector.Credentials{AccessToken: fuzzToken}}
		c := New()
		check := func(op string, err error) {
			if err == nil {
				return
			}
			if ctx.Err() != nil {
				t.Fatalf("%s hung on status %d body %q", op, status, body)
			}
			var ce *connector.Error
			if !errors.As(err, &ce) {
				t.Fatalf("%s: untyped error %T: %v", op, err, err)
			}
			if strings.Contains(err.Error(), fuzzToken) {
				t.Fatalf("%s: the token is in the error: %v", op, err)
			}
		}
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
