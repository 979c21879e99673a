package transport

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// slidingLog paces requests exactly against a provider's rolling window of
// limit requests per per. It logs when each request was answered: the
// provider counted the request when it arrived, which was no later than the
// answer, so a request may be sent as soon as fewer than limit answers fall
// within the last per and no more are in flight. The log then never holds
// more than limit arrivals in any window of the provider's length, however
// late requests arrive, and a free window is spent at once (no margin, no
// fixed burst).
type slidingLog struct {
	limit int
	per   time.Duration

	mu       sync.Mutex
	done     []time.Time // answer times within the last per, oldest first
	inFlight int
	changed  chan struct{} // closed (and replaced) when a request is answered
}

func newSlidingLog(limit int, per time.Duration) *slidingLog {
	return &slidingLog{limit: limit, per: per, changed: make(chan struct{})}
}

// pruneLocked drops answers that left the window: the provider counts a
// request at exactly now-per as outside (its window is (now-per, now]).
func (l *slidingLog) pruneLocked(now time.Time) {
	cut := now.Add(-l.per)
	i := 0
	for i < len(l.done) && !l.done[i].After(cut) {
		i++
	}
	l.done = l.done[i:]
}

// take waits until a request may be sent and counts it in flight.
func (l *slidingLog) take(ctx context.Context) error {
	for {
		l.mu.Lock()
		now := time.Now()
		l.pruneLocked(now)
		if len(l.done)+l.inFlight < l.limit {
			l.inFlight++
			l.mu.Unlock()
			return nil
		}
		changed := l.changed
		var expiry <-chan time.Time
		var timer *time.Timer
		if len(l.done) > 0 {
			timer = time.NewTimer(l.done[0].Add(l.per).Sub(now))
			expiry = timer.C
		}
		l.mu.Unlock()
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return ctx.Err()
		case <-expiry:
		case <-changed:
			if timer != nil {
				timer.Stop()
			}
		}
	}
}

// finish logs a taken request as answered now. used, when positive, is how
// many requests the provider said its current window holds (its
// remaining-quota headers): requests by other clients of the same account
// that the log has not seen are logged as answered now, so they are waited
// out too.
func (l *slidingLog) finish(used int) {
	l.mu.Lock()
	now := time.Now()
	l.inFlight = max(l.inFlight-1, 0)
	l.done = append(l.done, now)
	l.pruneLocked(now)
	if extra := min(used, l.limit) - len(l.done) - l.inFlight; extra > 0 {
		for range extra {
			l.done = append(l.done, now)
		}
	}
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
}

// SharedLog keeps budgets' sliding logs where every process spending the same
// provider account sees them (PostgreSQL when Patchbay runs as several
// processes). Keys name one window of one account (a connection id, with a
// suffix for a secondary limit or a per-resource limit).
type SharedLog interface {
	// Reserve logs a request about to be sent under key when the log holds
	// fewer than limit requests answered within the last per or still in
	// flight, and returns its id. Otherwise it logs nothing and returns how
	// long to wait before asking again (> 0).
	Reserve(ctx context.Context, key string, limit int, per time.Duration) (id int64, wait time.Duration, err error)
	// Answered marks a reserved request answered now and logs extra
	// requests answered now that other clients of the account sent (from the
	// provider's remaining-quota headers; 0 for none).
	Answered(ctx context.Context, key string, id int64, extra int) error
	// Count is how many requests the log holds for key within the last per
	// (answered or in flight).
	Count(ctx context.Context, key string, per time.Duration) (int, error)
}

// sharedWindow is a budget's window kept in a SharedLog.
type sharedWindow struct {
	log   SharedLog
	key   string
	limit int
	per   time.Duration
}

// take reserves a slot, waiting as long as the log says.
func (w *sharedWindow) take(ctx context.Context) (int64, error) {
	for {
		id, wait, err := w.log.Reserve(ctx, w.key, w.limit, w.per)
		if err != nil {
			return 0, fmt.Errorf("reserve a request of the shared budget: %w", err)
		}
		if wait <= 0 {
			return id, nil
		}
		if err := sleep(ctx, wait); err != nil {
			return 0, err
		}
	}
}

func (w *sharedWindow) finish(id int64, used int) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	extra := 0
	if used > 0 {
		if n, err := w.log.Count(ctx, w.key, w.per); err == nil {
			extra = min(used, w.limit) - n
		}
	}
	// A failed update leaves the request in flight until the log's own
	// staleness bound expires it: slower, never beyond the limit.
	_ = w.log.Answered(ctx, w.key, id, max(extra, 0))
}
