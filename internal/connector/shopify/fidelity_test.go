package shopify

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"patchbay/internal/catalog"
	"patchbay/internal/connector"
	fake "patchbay/internal/fakes/shopify"
)

// catalogAPIPath is the path of the catalog's Shopify API URL
// (/admin/api/{version}): the one place the version Patchbay asks for lives.
func catalogAPIPath(t *testing.T) string {
	t.Helper()
	c, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	p, _ := c.Get("shopify")
	u, err := url.Parse(p.Resolve(map[string]string{"shop": shop}).URLs.API)
	if err != nil {
		t.Fatal(err)
	}
	return u.Path
}

// headerLog records the version and deprecation headers of every answer.
type headerLog struct {
	mu       sync.Mutex
	versions []string
	reasons  []string
}

func (h *headerLog) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		h.mu.Lock()
		if v := rec.Header().Get("X-Shopify-API-Version"); v != "" {
			h.versions = append(h.versions, v)
		}
		if d := rec.Header().Get("X-Shopify-API-Deprecated-Reason"); d != "" {
			h.reasons = append(h.reasons, d)
		}
		h.mu.Unlock()
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
}

// TestVersionIsSupportedAndFieldsCurrent: the version Patchbay asks for is
// served as itself (not fallen forward from, as 2025-01 now is), and reading
// and writing customers uses no deprecated field (Customer.email and .phone
// gave way to defaultEmailAddress and defaultPhoneNumber).
func TestVersionIsSupportedAndFieldsCurrent(t *testing.T) {
	t.Parallel()
	e := newTenv(t, fake.Options{})
	log := &headerLog{}
	e.srv = httptest.NewServer(log.wrap(e.fake))
	t.Cleanup(e.srv.Close)
	want := strings.TrimPrefix(catalogAPIPath(t), "/admin/api/")
	if !slices.Contains(fake.SupportedVersions(), want) {
		t.Fatalf("the catalog asks for Shopify API %s; supported are %v", want, fake.SupportedVersions())
	}
	e.seed("customers", 3, func(i int) map[string]any {
		m := customer(i)
		if i == 1 {
			m["phone"] = "+16135550101"
		}
		return m
	})
	s := e.standard()
	all := e.readAll(s, connector.ListRequest{Object: "customers"})
	if len(all) != 3 || all[0].Fields["email"] != "c000@acme.com" || all[1].Fields["phone"] != "+16135550101" || all[0].Fields["phone"] != nil {
		t.Fatalf("records = %+v", all)
	}
	if _, err := e.conn.Write(e.ctx, s, connector.WriteRequest{Object: "customers", MatchField: "email",
		Records: []connector.Record{{Fields: map[string]any{"email": "c001@acme.com", "note": "hi"}}}}); err != nil {
		t.Fatal(err)
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	for _, v := range log.versions {
		if v != want {
			t.Errorf("asked for %s, served by %s", want, v)
		}
	}
	if len(log.reasons) > 0 {
		t.Errorf("deprecations: %v", log.reasons)
	}
}

// TestMatchByEmailVerifies: Shopify's email: search is tokenised, so a
// search for one address also finds longer ones; the connector updates only
// the customer with that very address, creates when none has it, and fails
// the row (writing nothing) when two have it.
func TestMatchByEmailVerifies(t *testing.T) {
	t.Parallel()
	e := newTenv(t, fake.Options{})
	seeded := e.seed("customers", 4, func(i int) map[string]any {
		return map[string]any{"email": []string{"bob@example.com.au", "ann@example.com", "dup@example.com", "DUP@example.com"}[i], "firstName": "Seed"}
	})
	s := e.standard()
	res, err := e.conn.Write(e.ctx, s, connector.WriteRequest{Object: "customers", MatchField: "email", Records: []connector.Record{
		{Fields: map[string]any{"email": "bob@example.com", "lastName": "New"}},
		{Fields: map[string]any{"email": "Ann@Example.com", "lastName": "Matched"}},
		{Fields: map[string]any{"email": "dup@example.com", "lastName": "Never"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if r := res[0]; r.Err != nil || !r.Created || r.ID == "gid://shopify/Customer/"+seeded[0].ID {
		t.Errorf("bob@example.com (only bob@example.com.au exists) = %+v, want a new customer", r)
	}
	if r := res[1]; r.Err != nil || r.Created || r.ID != "gid://shopify/Customer/"+seeded[1].ID {
		t.Errorf("ann = %+v, want the existing customer", r)
	}
	if r := res[2]; connector.ClassOf(r.Err) != connector.ClassInvalid || !strings.Contains(r.Err.Error(), "2 Shopify customers") {
		t.Errorf("dup = %+v, want a per-row error naming two customers", r)
	}
	for _, r := range e.fake.Records(shop, "customers") {
		switch r.Fields["email"] {
		case "bob@example.com.au", "dup@example.com", "DUP@example.com":
			if r.Fields["lastName"] != "" {
				t.Errorf("customer %s was written: %+v", r.Fields["email"], r.Fields)
			}
		}
	}
}
