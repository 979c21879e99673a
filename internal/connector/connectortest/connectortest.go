// Package connectortest is the contract every connector passes against its
// provider's fake over real HTTP: identity, list with paging, incremental
// reads, writes in batches of the documented size, error classification for
// 401, 403, 404, 429 and 5xx, and rate-limit compliance measured by the
// fake's own counters. A connector's tests describe how to start its fake
// (a Harness) and call Run; provider quirks stay in their own tests.
package connectortest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"patchbay/internal/connector"
	"patchbay/internal/fakes/fakekit"
	"patchbay/internal/transport"
)

// Options say what kind of session a case needs.
type Options struct {
	// Paced: the session spends a budget at the provider's documented limit
	// and the fake runs on the real clock, so that the fake's limit is real.
	Paced bool
	// Retries for the transport; 0 means none (a 429 comes straight back).
	Retries int
}

// Env is one fake behind a real HTTP server and a session that talks to it.
type Env struct {
	Session connector.Session
	// Clock moves the fake's time (nil with Options.Paced).
	Clock *fakekit.Clock
	// Stats are the fake's counters.
	Stats func() fakekit.Stats
	// Control posts to the fake's control surface (outage, revoke, rate_limit).
	Control func(t *testing.T, what string, body any)
	// Seed stores n new records of the harness's object in the fake, at the
	// fake's current time, and returns their ids as the connector sees them.
	Seed func(t *testing.T, n int) []string
	// Stored counts the records of the harness's object the fake holds.
	Stored func(t *testing.T) int
}

// Harness describes a connector and its fake to the contract.
type Harness struct {
	Connector connector.Connector
	Object    string // the object read and written
	PageSize  int    // Limit asked for when paging (the provider's maximum or a size it accepts)
	BatchSize int    // the documented write batch size
	// NewRecord is a valid record to create, distinct for each i.
	NewRecord func(i int) connector.Record
	// Start returns a fresh fake and session for one case.
	Start func(t *testing.T, o Options) *Env
	// Forbidden runs a call the session's credentials may not make (a scope
	// missing): Start with scopes limited is the harness's business.
	Forbidden func(t *testing.T) error
	// NotFound runs a call about something that does not exist.
	NotFound func(t *testing.T, e *Env) error
}

// Budget is the budget a paced session spends: n requests per period.
func Budget(n int, period time.Duration) *transport.Budget { return transport.NewBudget(n, period) }

// Run runs the contract.
func Run(t *testing.T, h Harness) {
	ctx := context.Background()
	t.Run("identity", func(t *testing.T) {
		t.Parallel()
		e := h.Start(t, Options{})
		acct, err := h.Connector.Identity(ctx, e.Session)
		if err != nil || acct.ID == "" {
			t.Fatalf("identity = %+v, %v", acct, err)
		}
	})
	t.Run("list pages", func(t *testing.T) {
		t.Parallel()
		e := h.Start(t, Options{})
		n := 2*h.PageSize + 5
		seeded := e.Seed(t, n)
		before := e.Stats().Calls
		req := connector.ListRequest{Object: h.Object, Limit: h.PageSize}
		seen := map[string]bool{}
		pages := 0
		for {
			page, err := h.Connector.List(ctx, e.Session, req)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			if len(page.Records) > h.PageSize {
				t.Fatalf("page of %d records, asked for %d", len(page.Records), h.PageSize)
			}
			for _, r := range page.Records {
				if r.ID == "" || seen[r.ID] {
					t.Fatalf("record without id or read twice: %+v", r)
				}
				seen[r.ID] = true
			}
			if page.Next == "" {
				break
			}
			req.Cursor = page.Next
		}
		if pages != 3 || len(seen) != n || e.Stats().Calls-before != 3 {
			t.Fatalf("%d pages, %d records, %d requests; want 3, %d, 3", pages, len(seen), e.Stats().Calls-before, n)
		}
		for _, id := range seeded {
			if !seen[id] {
				t.Fatalf("seeded record %s not read", id)
			}
		}
	})
	t.Run("incremental", func(t *testing.T) {
		t.Parallel()
		e := h.Start(t, Options{})
		e.Seed(t, 3)
		e.Clock.Advance(5 * time.Minute) // within every provider's access token lifetime
		since := e.Clock.Now()
		e.Clock.Advance(time.Minute)
		fresh := e.Seed(t, 2)
		page, err := h.Connector.List(ctx, e.Session, connector.ListRequest{Object: h.Object, Since: since})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range page.Records {
			got = append(got, r.ID)
		}
		if strings.Join(got, ",") != strings.Join(fresh, ",") || page.Next != "" {
			t.Fatalf("changed since %v: %v (next %q), want %v", since, got, page.Next, fresh)
		}
	})
	t.Run("write batches", func(t *testing.T) {
		t.Parallel()
		e := h.Start(t, Options{})
		n := 2*h.BatchSize + 1
		recs := make([]connector.Record, n)
		for i := range recs {
			recs[i] = h.NewRecord(i)
		}
		before, stored := e.Stats().Calls, e.Stored(t)
		res, err := h.Connector.Write(ctx, e.Session, connector.WriteRequest{Object: h.Object, Records: recs})
		if err != nil {
			t.Fatal(err)
		}
		if got := e.Stats().Calls - before; got != 3 {
			t.Errorf("%d records took %d requests, want 3 (batches of %d)", n, got, h.BatchSize)
		}
		for i, r := range res {
			if r.Index != i || r.Err != nil || r.ID == "" || !r.Created {
				t.Fatalf("result %d = %+v", i, r)
			}
		}
		if got := e.Stored(t) - stored; got != n {
			t.Errorf("the fake holds %d new records, want %d", got, n)
		}
	})
	t.Run("errors", func(t *testing.T) {
		t.Parallel()
		list := func(e *Env) error {
			_, err := h.Connector.List(ctx, e.Session, connector.ListRequest{Object: h.Object})
			return err
		}
		cases := []struct {
			name  string
			want  connector.Class
			retry int
			run   func(t *testing.T, e *Env) error
		}{
			{"401 revoked", connector.ClassUnauthorized, 0, func(t *testing.T, e *Env) error {
				e.Control(t, "revoke", map[string]string{})
				return list(e)
			}},
			{"403 scope missing", connector.ClassForbidden, 0, func(t *testing.T, e *Env) error { return h.Forbidden(t) }},
			{"404", connector.ClassNotFound, 0, func(t *testing.T, e *Env) error { return h.NotFound(t, e) }},
			{"429", connector.ClassRateLimited, 0, func(t *testing.T, e *Env) error {
				e.Control(t, "rate_limit", map[string]int{"per_second": 1})
				if err := list(e); err != nil {
					return err
				}
				return list(e)
			}},
			{"5xx", connector.ClassUnavailable, 1, func(t *testing.T, e *Env) error {
				e.Control(t, "outage", map[string]bool{"on": true})
				return list(e)
			}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				e := h.Start(t, Options{Retries: c.retry})
				err := c.run(t, e)
				var ce *connector.Error
				if !errors.As(err, &ce) || ce.Class != c.want {
					t.Fatalf("error %v (%T), want class %s", err, err, c.want)
				}
				if ce.Message == "" {
					t.Errorf("error without the provider's message: %+v", ce)
				}
				if creds := e.Session.Creds; strings.Contains(err.Error(), creds.AccessToken) || creds.RefreshToken != "" && strings.Contains(err.Error(), creds.RefreshToken) {
					t.Errorf("error message carries a token: %v", err)
				}
			})
		}
	})
	// Not parallel: the arrival times the fake counts should reflect the
	// budget's pacing, not the scheduling delays of sibling tests (under -race
	// on two cores those reached the 150 ms the budget allows for jitter).
	t.Run("rate limit compliance", func(t *testing.T) {
		e := h.Start(t, Options{Paced: true, Retries: 4})
		e.Seed(t, 1)
		for range 12 {
			if _, err := h.Connector.List(ctx, e.Session, connector.ListRequest{Object: h.Object}); err != nil {
				t.Fatal(err)
			}
		}
		if s := e.Stats(); s.RateLimited != 0 || s.RequestsBeyondLimit != 0 || s.OverLimit != 0 {
			t.Fatalf("requests beyond the provider's limit: %+v", s)
		}
	})
}
