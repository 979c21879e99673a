// Package transport is the one HTTP layer every provider call goes through: it
// spends the connection's request budget, honours Retry-After, retries
// transient failures with jittered backoff and refreshes credentials once on a
// 401 before giving the response to the connector.
package transport

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"patchbay/internal/connector"
	"patchbay/internal/netguard"
)

// Budget is the request budget of one connection (one account at one
// provider), shared by syncs, enrichment and probes.
type Budget struct {
	limiter *rate.Limiter

	mu          sync.Mutex
	pausedUntil time.Time
}

// NewBudget allows requests per period. The limiter runs at 97 % of the
// documented rate with a burst of one so that no rolling window of the
// provider's length ever holds more requests than the provider allows.
func NewBudget(requests int, period time.Duration) *Budget {
	if requests <= 0 || period <= 0 {
		return &Budget{limiter: rate.NewLimiter(rate.Inf, 1)}
	}
	perSecond := float64(requests) / period.Seconds() * 0.97
	return &Budget{limiter: rate.NewLimiter(rate.Limit(perSecond), 1)}
}

// Wait blocks until a request may be sent.
func (b *Budget) Wait(ctx context.Context) error {
	b.mu.Lock()
	until := b.pausedUntil
	b.mu.Unlock()
	if d := time.Until(until); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return b.limiter.Wait(ctx)
}

// Pause stops every request on this budget until t (the provider said
// Retry-After).
func (b *Budget) Pause(t time.Time) {
	b.mu.Lock()
	if t.After(b.pausedUntil) {
		b.pausedUntil = t
	}
	b.mu.Unlock()
}

// PausedUntil reports when the budget opens again (zero when it is open).
func (b *Budget) PausedUntil() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	if time.Now().After(b.pausedUntil) {
		return time.Time{}
	}
	return b.pausedUntil
}

// Budgets holds one Budget per key (a connection id), created on first use.
type Budgets struct {
	mu sync.Mutex
	m  map[string]*Budget
}

// NewBudgets returns an empty set.
func NewBudgets() *Budgets { return &Budgets{m: map[string]*Budget{}} }

// Get returns the budget for key, creating it with the given limit.
func (bs *Budgets) Get(key string, requests int, period time.Duration) *Budget {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	b, ok := bs.m[key]
	if !ok {
		b = NewBudget(requests, period)
		bs.m[key] = b
	}
	return b
}

// Options configure a Transport.
type Options struct {
	Base    http.RoundTripper // defaults to http.DefaultTransport
	Budget  *Budget           // required
	Retries int               // extra attempts for 429 and transient failures; default 4
	// Authorize sets credentials on an outgoing request (a fresh clone each attempt).
	Authorize func(ctx context.Context, req *http.Request) error
	// Refresh is called once per request after a 401, to renew credentials; nil
	// when the credentials cannot be renewed (API keys).
	Refresh func(ctx context.Context) error
	// Observe is told about every response that reached the provider.
	Observe func(status int)
	// MaxRetryAfter caps how long one Retry-After is waited in place; longer
	// pauses are returned to the caller as a rate-limit error. Default 60 s.
	MaxRetryAfter time.Duration
}

// Transport is an http.RoundTripper with the behaviour described in the package doc.
type Transport struct{ o Options }

// New returns a Transport.
func New(o Options) *Transport {
	if o.Base == nil {
		o.Base = http.DefaultTransport
	}
	if o.Retries == 0 {
		o.Retries = 4
	}
	if o.MaxRetryAfter == 0 {
		o.MaxRetryAfter = 60 * time.Second
	}
	return &Transport{o: o}
}

// Client wraps the transport in an http.Client with an overall timeout.
func (t *Transport) Client() *http.Client {
	return &http.Client{Transport: t, Timeout: 2 * time.Minute}
}

// Idempotent marks a non-GET request as safe to retry after a 5xx or a
// network failure (upserts, PUTs). POSTs that create are not retried then.
func Idempotent(req *http.Request) *http.Request {
	return req.WithContext(context.WithValue(req.Context(), idempotentKey{}, true))
}

type idempotentKey struct{}

func retriable(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodOptions:
		return true
	}
	v, _ := req.Context().Value(idempotentKey{}).(bool)
	return v
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	refreshed := false
	for attempt := 0; ; attempt++ {
		if err := t.o.Budget.Wait(ctx); err != nil {
			return nil, err
		}
		out := req.Clone(ctx)
		if req.Body != nil && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			out.Body = body
		}
		if t.o.Authorize != nil {
			if err := t.o.Authorize(ctx, out); err != nil {
				return nil, err
			}
		}
		resp, err := t.o.Base.RoundTrip(out)
		last := attempt >= t.o.Retries
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if last || !retriable(req) || netguard.AsBlocked(err) != nil { // a refused address stays refused
				return nil, &connector.Error{Class: connector.ClassUnavailable, Message: "provider unreachable", Err: err}
			}
			if err := sleep(ctx, backoff(attempt)); err != nil {
				return nil, err
			}
			continue
		}
		if t.o.Observe != nil {
			t.o.Observe(resp.StatusCode)
		}
		switch {
		case resp.StatusCode == http.StatusTooManyRequests:
			wait := RetryAfter(resp.Header, backoff(attempt))
			t.o.Budget.Pause(time.Now().Add(wait))
			if last || wait > t.o.MaxRetryAfter {
				return resp, nil
			}
			drain(resp)
			continue
		case resp.StatusCode >= 500 && !last && retriable(req):
			drain(resp)
			if err := sleep(ctx, backoff(attempt)); err != nil {
				return nil, err
			}
			continue
		case resp.StatusCode == http.StatusUnauthorized && !refreshed && t.o.Refresh != nil:
			refreshed = true
			if err := t.o.Refresh(ctx); err != nil {
				drain(resp)
				return nil, err
			}
			drain(resp)
			attempt-- // the refresh is not a retry of a transient failure
			continue
		}
		return resp, nil
	}
}

// RetryAfter parses a Retry-After header (seconds or HTTP date); def when absent.
func RetryAfter(h http.Header, def time.Duration) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return def
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
		return 0
	}
	return def
}

// backoff is exponential from 200 ms with full jitter, capped at 10 s.
func backoff(attempt int) time.Duration {
	d := 200 * time.Millisecond << min(attempt, 6)
	d = min(d, 10*time.Second)
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
}
