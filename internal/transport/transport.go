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

	"patchbay/internal/connector"
	"patchbay/internal/netguard"
)

// Budget is the request budget of one connection (one account at one
// provider), shared by syncs, enrichment and probes.
type Budget struct {
	log    *slidingLog   // nil: no request limit, or the log is shared
	shared *sharedWindow // nil: the log lives in this process
	sem    chan struct{} // nil: no cap on simultaneous requests
	cost   *CostBucket   // nil: the provider does not meter by cost

	mu          sync.Mutex
	pausedUntil time.Time
}

// NewBudget allows requests per period, paced by a sliding log of this
// process (see slidingLog): a free window is spent at once and no rolling
// window of the provider's length ever holds more than requests.
func NewBudget(requests int, period time.Duration) *Budget {
	return NewBudgetFor(Limit{Requests: requests, Period: period})
}

// Limit is everything a Budget enforces.
type Limit struct {
	Requests    int
	Period      time.Duration
	Concurrency int // simultaneous requests at most; 0 = no cap
	// CostBucket and CostRestore describe a cost-metered provider's bucket
	// (points, points per second); 0 when it meters by request count only.
	CostBucket, CostRestore float64
}

// NewBudgetFor returns a budget enforcing l in this process.
func NewBudgetFor(l Limit) *Budget { return newBudget(l, nil, "") }

// newBudget keeps the request log in shared under key when shared is set.
func newBudget(l Limit, shared SharedLog, key string) *Budget {
	b := &Budget{}
	if l.Requests > 0 && l.Period > 0 {
		if shared != nil {
			b.shared = &sharedWindow{log: shared, key: key, limit: l.Requests, per: l.Period}
		} else {
			b.log = newSlidingLog(l.Requests, l.Period)
		}
	}
	if l.Concurrency > 0 {
		b.sem = make(chan struct{}, l.Concurrency)
	}
	if l.CostBucket > 0 && l.CostRestore > 0 {
		b.cost = NewCostBucket(l.CostBucket, l.CostRestore)
	}
	return b
}

// Meter is the budget's cost bucket, nil unless the provider meters by cost.
func (b *Budget) Meter() *CostBucket { return b.cost }

// acquire takes one of the budget's connection slots; release gives it back.
func (b *Budget) acquire(ctx context.Context) (release func(), err error) {
	if b.sem == nil {
		return func() {}, nil
	}
	select {
	case b.sem <- struct{}{}:
		var once sync.Once
		return func() { once.Do(func() { <-b.sem }) }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Take blocks until a request may be sent (the budget is not paused and its
// window has room) and counts it as sent. The caller calls answered once the
// provider's answer (or a failure) is back, with the requests the provider
// reports its window holds (0 when it did not say).
func (b *Budget) Take(ctx context.Context) (answered func(used int), err error) {
	if err := b.waitPause(ctx); err != nil {
		return nil, err
	}
	switch {
	case b.log != nil:
		if err := b.log.take(ctx); err != nil {
			return nil, err
		}
		return b.log.finish, nil
	case b.shared != nil:
		id, err := b.shared.take(ctx)
		if err != nil {
			return nil, err
		}
		return func(used int) { b.shared.finish(id, used) }, nil
	}
	return func(int) {}, nil
}

// waitPause blocks while the provider asked to wait (Retry-After).
func (b *Budget) waitPause(ctx context.Context) error {
	b.mu.Lock()
	until := b.pausedUntil
	b.mu.Unlock()
	if d := time.Until(until); d > 0 {
		return sleep(ctx, d)
	}
	return nil
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
	shared SharedLog // nil: every budget's log lives in this process
	mu     sync.Mutex
	m      map[string]*Budget
}

// NewBudgets returns an empty set whose budgets live in this process.
func NewBudgets() *Budgets { return &Budgets{m: map[string]*Budget{}} }

// NewSharedBudgets returns an empty set whose request logs live in log, so
// that every process using the same log spends one budget per key.
func NewSharedBudgets(log SharedLog) *Budgets {
	return &Budgets{shared: log, m: map[string]*Budget{}}
}

// For returns the budget for key, creating it to enforce l.
func (bs *Budgets) For(key string, l Limit) *Budget {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	b, ok := bs.m[key]
	if !ok {
		b = newBudget(l, bs.shared, key)
		bs.m[key] = b
	}
	return b
}

// Get returns the budget for key, creating it with the given limit.
func (bs *Budgets) Get(key string, requests int, period time.Duration) *Budget {
	return bs.For(key, Limit{Requests: requests, Period: period})
}

// Options configure a Transport.
type Options struct {
	Base    http.RoundTripper // defaults to http.DefaultTransport
	Budget  *Budget           // required
	Retries int               // extra attempts for 429 and transient failures; default 4
	// Authorize sets credentials on an outgoing request (a fresh clone each attempt).
	Authorize func(ctx context.Context, req *http.Request) error
	// Refresh is called once per request after a 401 with the request the
	// provider refused (so it can tell which credentials failed), to renew
	// credentials; nil when the credentials cannot be renewed (API keys).
	Refresh func(ctx context.Context, refused *http.Request) error
	// Observe is told about every response that reached the provider.
	Observe func(status int)
	// MaxRetryAfter caps how long one Retry-After is waited in place; longer
	// pauses are returned to the caller as a rate-limit error. Default 60 s.
	MaxRetryAfter time.Duration
	// Keyed returns the budget of a request tagged WithBudgetKey (a limit per
	// Airtable base, HubSpot's search limit); such a request spends it as well
	// as Budget, and a 429 pauses only it. Nil (or a nil budget): tags are
	// ignored.
	Keyed func(key string) *Budget
	// Used reads how many requests the provider says its window holds from
	// an answer's headers (HubSpot's X-HubSpot-RateLimit-*, Salesforce's
	// Sforce-Limit-Info), so that requests other clients of the account sent
	// are waited out too; nil or ok false when the provider did not say.
	Used func(h http.Header) (used int, ok bool)
}

type budgetKey struct{}

// WithBudgetKey tags a request with the key of the finer budget it spends,
// for providers whose limit counts per resource rather than per connection.
func WithBudgetKey(req *http.Request, key string) *http.Request {
	return req.WithContext(context.WithValue(req.Context(), budgetKey{}, key))
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
	budget := t.o.Budget // what a 429 pauses
	var keyed *Budget
	if key, _ := ctx.Value(budgetKey{}).(string); key != "" && t.o.Keyed != nil {
		if keyed = t.o.Keyed(key); keyed != nil {
			budget = keyed
		}
	}
	for attempt := 0; ; attempt++ {
		out := req.Clone(ctx)
		if req.Body != nil && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			out.Body = body
		}
		release, err := t.o.Budget.acquire(ctx)
		if err != nil {
			return nil, err
		}
		answered, err := t.take(ctx, keyed)
		if err != nil {
			release()
			return nil, err
		}
		// Credentials are read after the wait for the window, not before:
		// a request that waited while the connection was reconnected must
		// carry the new credentials, not the ones it was queued with.
		if t.o.Authorize != nil {
			if err := t.o.Authorize(ctx, out); err != nil {
				answered(0) // counted as sent: never fewer than the provider saw
				release()
				return nil, err
			}
		}
		resp, err := t.o.Base.RoundTrip(out)
		used := 0
		if err == nil && t.o.Used != nil {
			if n, ok := t.o.Used(resp.Header); ok {
				used = n
			}
		}
		answered(used)
		if err != nil {
			release()
		} else {
			// The slot is held until the body is read and closed: the
			// provider counts the connection open until then.
			resp.Body = &releasingBody{ReadCloser: resp.Body, release: release}
		}
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
			budget.Pause(time.Now().Add(wait))
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
			if err := t.o.Refresh(ctx, out); err != nil {
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

// take takes a slot of the keyed budget, then of the connection's (the finer
// limit first, so a slot of the coarser one is never held while waiting for
// it); the returned func logs both answered.
func (t *Transport) take(ctx context.Context, keyed *Budget) (func(used int), error) {
	if keyed == nil {
		return t.o.Budget.Take(ctx)
	}
	sub, err := keyed.Take(ctx)
	if err != nil {
		return nil, err
	}
	main, err := t.o.Budget.Take(ctx)
	if err != nil {
		sub(0)
		return nil, err
	}
	// The provider's headers describe the main window only.
	return func(used int) { main(used); sub(0) }, nil
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

// releasingBody gives the budget's connection slot back when it is closed.
type releasingBody struct {
	io.ReadCloser
	release func()
}

func (b *releasingBody) Close() error {
	err := b.ReadCloser.Close()
	b.release()
	return err
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
}
