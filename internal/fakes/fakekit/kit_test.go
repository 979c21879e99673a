package fakekit

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestWindowAdmit(t *testing.T) {
	t.Parallel()
	var w window
	steps := []struct {
		at        time.Duration
		ok        bool
		wantRetry time.Duration
	}{
		{0, true, 0},
		{1 * time.Second, true, 0},
		{2 * time.Second, true, 0},
		{3 * time.Second, false, 7 * time.Second}, // the one at 0 leaves at 10 s
		{9999 * time.Millisecond, false, time.Millisecond},
		{10 * time.Second, true, 0}, // rolling: the first hit has left
		{10500 * time.Millisecond, false, 500 * time.Millisecond},
	}
	for _, s := range steps {
		ok, retry := w.admit(t0.Add(s.at), 3, 10*time.Second, 0)
		if ok != s.ok || retry != s.wantRetry {
			t.Errorf("at %v: admit = %v, %v; want %v, %v", s.at, ok, retry, s.ok, s.wantRetry)
		}
	}
	if ok, _ := (&window{}).admit(t0, 0, time.Second, 0); !ok {
		t.Error("limit 0 must admit everything")
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		d    time.Duration
		want int
	}{{0, 1}, {time.Millisecond, 1}, {time.Second, 1}, {1001 * time.Millisecond, 2}, {7 * time.Second, 7}} {
		if got := retryAfterSeconds(c.d); got != c.want {
			t.Errorf("retryAfterSeconds(%v) = %d, want %d", c.d, got, c.want)
		}
	}
}

func TestGuard(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		setup      func(k *Kit, clock *Clock, token string)
		header     func(token string) string
		wantStatus int
		wantReason string
	}{
		{"ok", nil, bearerOf, 200, ""},
		{"missing", nil, func(string) string { return "" }, 401, "missing"},
		{"unknown", nil, func(string) string { return "Bearer nope" }, 401, "unknown"},
		{"lowercase scheme", nil, func(tok string) string { return "bearer " + tok }, 200, ""},
		{"expired by time", func(_ *Kit, c *Clock, _ string) { c.Advance(time.Hour) }, bearerOf, 401, "expired"},
		{"expired by control", func(k *Kit, _ *Clock, _ string) { k.Expire("acct-demo") }, bearerOf, 401, "expired"},
		{"revoked", func(k *Kit, _ *Clock, _ string) { k.Revoke("acct-demo") }, bearerOf, 401, "revoked"},
		{"outage", func(k *Kit, _ *Clock, _ string) { k.SetOutage(true) }, bearerOf, 503, ""},
		{"other account revoked", func(k *Kit, _ *Clock, _ string) { k.Revoke("someone-else") }, bearerOf, 200, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			clock := NewClock(t0)
			k := New(Options{Now: clock.Now, AccessTTL: time.Hour})
			tok := k.IssueToken("acct-demo", []string{"read"}).AccessToken
			if c.setup != nil {
				c.setup(k, clock, tok)
			}
			rec := httptest.NewRecorder()
			req := httptest.NewRequest("GET", "/api", nil)
			if h := c.header(tok); h != "" {
				req.Header.Set("Authorization", h)
			}
			call, ok := k.Guard(rec, req)
			if rec.Code != c.wantStatus && !(ok && c.wantStatus == 200) {
				t.Fatalf("status %d, want %d", rec.Code, c.wantStatus)
			}
			if ok != (c.wantStatus == 200) {
				t.Fatalf("ok = %v", ok)
			}
			if ok && (call.Account != "acct-demo" || !call.HasScope("write", "read")) {
				t.Errorf("call = %+v", call)
			}
			if c.wantReason != "" && !strings.Contains(rec.Body.String(), c.wantReason) {
				t.Errorf("body %q lacks reason %q", rec.Body.String(), c.wantReason)
			}
		})
	}
}

func bearerOf(tok string) string { return "Bearer " + tok }

func TestGuardRateLimit(t *testing.T) {
	t.Parallel()
	clock := NewClock(t0)
	k := New(Options{Now: clock.Now, RateLimit: 2, RateWindow: 10 * time.Second})
	tok := k.IssueToken("acct-demo", nil).AccessToken
	do := func() *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/api", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		k.Guard(rec, req)
		return rec
	}
	do()
	clock.Advance(4 * time.Second)
	if rec := do(); rec.Code != 200 || rec.Header().Get("Retry-After") != "" {
		t.Fatalf("second call: %d", rec.Code)
	}
	rec := do()
	if rec.Code != 429 || rec.Header().Get("Retry-After") != "6" {
		t.Fatalf("third call: %d Retry-After %q, want 429 and 6", rec.Code, rec.Header().Get("Retry-After"))
	}
	clock.Advance(6 * time.Second)
	if rec := do(); rec.Code != 200 {
		t.Fatalf("after the window rolled: %d", rec.Code)
	}
	s := k.Stats()
	if s.RateLimited != 1 || s.RequestsBeyondLimit != 1 || s.OverLimit != 0 || s.Calls != 4 || s.Accounts["acct-demo"].Calls != 4 {
		t.Errorf("stats = %+v", s)
	}
}

// TestGuardConcurrent hammers one account from many goroutines while the
// clock stands still: exactly the limit gets through, never more.
func TestGuardConcurrent(t *testing.T) {
	t.Parallel()
	clock := NewClock(t0)
	k := New(Options{Now: clock.Now, RateLimit: 110, RateWindow: 10 * time.Second})
	tok := k.IssueToken("acct-demo", nil).AccessToken
	var accepted, refused atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for range 20 {
				rec := httptest.NewRecorder()
				req := httptest.NewRequest("GET", "/api", nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				if _, ok := k.Guard(rec, req); ok {
					accepted.Add(1)
				} else if rec.Code == 429 {
					refused.Add(1)
				}
			}
		})
	}
	wg.Wait()
	s := k.Stats()
	if accepted.Load() != 110 || refused.Load() != 640-110 || s.OverLimit != 0 || s.RateLimited != 530 {
		t.Errorf("accepted %d refused %d stats %+v", accepted.Load(), refused.Load(), s)
	}
}

func TestAdmitSecondaryPolicy(t *testing.T) {
	t.Parallel()
	clock := NewClock(t0)
	k := New(Options{Now: clock.Now})
	var policies []string
	k.o.Errors.RateLimited = func(w http.ResponseWriter, _ *http.Request, policy string) {
		policies = append(policies, policy)
		w.WriteHeader(429)
	}
	c := Call{Account: "acct-demo"}
	for i := range 6 {
		rec := httptest.NewRecorder()
		ok := k.Admit(rec, httptest.NewRequest("POST", "/search", nil), c, "search", 5, time.Second)
		if ok != (i < 5) {
			t.Fatalf("request %d: ok = %v", i, ok)
		}
	}
	if len(policies) != 1 || policies[0] != "search" {
		t.Errorf("policies = %v", policies)
	}
	if s := k.Stats(); s.RateLimited != 1 || s.RequestsBeyondLimit != 0 {
		t.Errorf("a secondary refusal is a 429 but not beyond the main limit: %+v", s)
	}
}

func TestSetRateLimitRestores(t *testing.T) {
	t.Parallel()
	k := New(Options{RateLimit: 110, RateWindow: 10 * time.Second})
	k.SetRateLimit(1, time.Second)
	if k.limit != 1 || k.per != time.Second {
		t.Fatalf("tightened to %d/%v", k.limit, k.per)
	}
	k.SetRateLimit(0, time.Second)
	if k.limit != 110 || k.per != 10*time.Second {
		t.Fatalf("restored to %d/%v", k.limit, k.per)
	}
}

func TestStorePagingAndWrites(t *testing.T) {
	t.Parallel()
	clock := NewClock(t0)
	s := newStore(clock.Now)
	for i := range 250 {
		_ = s.Tx(func(tx *Tx) error { tx.Create(map[string]string{"n": strconv.Itoa(i)}); return nil })
	}
	var ids []string
	after, pages := "", 0
	for {
		page, next := s.Page(after, 100)
		pages++
		for _, r := range page {
			ids = append(ids, r.ID)
		}
		if next == "" {
			break
		}
		after = next
	}
	if pages != 3 || len(ids) != 250 || ids[0] != "101" || ids[249] != "350" {
		t.Fatalf("pages %d ids %d first %s last %s", pages, len(ids), ids[0], ids[len(ids)-1])
	}
	for i := 1; i < len(ids); i++ {
		if !lessID(ids[i-1], ids[i]) {
			t.Fatalf("ids out of order at %d: %s, %s", i, ids[i-1], ids[i])
		}
	}

	clock.Advance(time.Minute)
	var updated Record
	_ = s.Tx(func(tx *Tx) error {
		updated, _ = tx.Update("101", map[string]string{"n": "", "x": "y"})
		return nil
	})
	if _, has := updated.Fields["n"]; has || updated.Fields["x"] != "y" || !updated.UpdatedAt.Equal(t0.Add(time.Minute)) || !updated.CreatedAt.Equal(t0) {
		t.Errorf("update = %+v", updated)
	}

	seeded := s.Seed([]map[string]any{
		{"id": "5000", "properties": map[string]any{"email": "a@x.com", "n": float64(3)}},
		{"email": "b@x.com", "vip": true},
		{"fields": map[string]any{"email": "c@x.com"}},
	})
	if seeded[0].ID != "5000" || seeded[0].Fields["n"] != "3" || seeded[1].ID != "5001" || seeded[1].Fields["vip"] != "true" || seeded[2].Fields["email"] != "c@x.com" {
		t.Errorf("seeded = %+v", seeded)
	}
	if _, has := seeded[1].Fields["id"]; has {
		t.Error("a flat record's id key is not a field")
	}
	if s.Len() != 253 {
		t.Errorf("len = %d", s.Len())
	}
	// Returned records are copies: changing them changes nothing stored.
	got, _ := s.Get("5000")
	got.Fields["email"] = "changed"
	if again, _ := s.Get("5000"); again.Fields["email"] != "a@x.com" {
		t.Error("Get leaked the stored map")
	}
	if page, next := s.Page("99999", 10); len(page) != 0 || next != "" {
		t.Errorf("page after the end = %v, %q", page, next)
	}
}

func TestStoreConcurrentCreates(t *testing.T) {
	t.Parallel()
	s := newStore(time.Now)
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 50 {
				_ = s.Tx(func(tx *Tx) error {
					tx.Create(map[string]string{"k": fmt.Sprint(g, "-", i)})
					return nil
				})
				s.Page("", 10)
			}
		})
	}
	wg.Wait()
	if s.Len() != 800 {
		t.Errorf("len = %d, want 800 distinct ids", s.Len())
	}
}

func TestWindowPenalty(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	w := &window{}
	for i := range 2 {
		if ok, _ := w.admit(t0.Add(time.Duration(i)*time.Millisecond), 2, time.Second, 30*time.Second); !ok {
			t.Fatalf("request %d refused", i)
		}
	}
	if ok, retry := w.admit(t0.Add(10*time.Millisecond), 2, time.Second, 30*time.Second); ok || retry != 30*time.Second {
		t.Fatalf("over the limit: ok %v retry %v, want a 30 s penalty", ok, retry)
	}
	// The window has emptied after 2 s, but the penalty still holds.
	if ok, retry := w.admit(t0.Add(2*time.Second), 2, time.Second, 30*time.Second); ok || retry != 28*time.Second+10*time.Millisecond {
		t.Fatalf("during the penalty: ok %v retry %v", ok, retry)
	}
	if ok, _ := w.admit(t0.Add(31*time.Second), 2, time.Second, 30*time.Second); !ok {
		t.Fatal("after the penalty the window opens again")
	}
}

func TestRevokeToken(t *testing.T) {
	t.Parallel()
	k := New(Options{})
	a, b := k.IssueToken("x", nil), k.IssueToken("x", nil)
	if !k.RevokeToken(a.RefreshToken) || k.RevokeToken(a.RefreshToken) {
		t.Fatal("a refresh token revokes once")
	}
	if _, f := k.Introspect(a.AccessToken); f != AuthRevoked {
		t.Errorf("access token of a revoked refresh token: %q", f)
	}
	if _, f := k.Introspect(b.AccessToken); f != "" {
		t.Errorf("another grant of the account must live on: %q", f)
	}
	if !k.RevokeToken(b.AccessToken) {
		t.Fatal("access token revocation")
	}
	if _, f := k.Introspect(b.AccessToken); f != AuthRevoked {
		t.Errorf("revoked access token: %q", f)
	}
}
