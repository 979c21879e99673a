package transport

import (
	"context"
	"sync"
	"time"
)

// CostBucket is the client's model of a provider's leaky bucket of cost
// points (Shopify's GraphQL Admin API: every query costs points, the bucket
// holds a maximum and refills at a fixed rate). Requests take their
// estimated cost before they are sent and wait while the model says the
// bucket is short; each response's report of the real bucket corrects the
// model. It implements connector.CostMeter.
type CostBucket struct {
	mu      sync.Mutex
	max     float64
	restore float64 // points per second
	avail   float64
	at      time.Time
}

// NewCostBucket returns a full bucket of max points refilled at restore points a second.
func NewCostBucket(max, restore float64) *CostBucket {
	return &CostBucket{max: max, restore: restore, avail: max, at: time.Now()}
}

func (b *CostBucket) refillLocked(now time.Time) {
	if el := now.Sub(b.at).Seconds(); el > 0 {
		b.avail = min(b.max, b.avail+el*b.restore)
	}
	b.at = now
}

// Take waits until cost points are available and spends them. A cost above
// the bucket's size waits for a full bucket (the provider refuses such a
// query anyway, with its own error).
func (b *CostBucket) Take(ctx context.Context, cost float64) error {
	for {
		b.mu.Lock()
		b.refillLocked(time.Now())
		need := min(cost, b.max)
		if b.avail >= need {
			b.avail -= need
			b.mu.Unlock()
			return nil
		}
		wait := time.Duration((need - b.avail) / b.restore * float64(time.Second))
		b.mu.Unlock()
		if err := sleep(ctx, max(wait, time.Millisecond)); err != nil {
			return err
		}
	}
}

// Observe corrects the model with the provider's report. The model only ever
// moves down to the report: requests in flight have spent points locally that
// the provider has not seen yet, and crediting refunds early could overdraw.
func (b *CostBucket) Observe(available, maximum, restorePerSecond float64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refillLocked(time.Now())
	if maximum > 0 {
		b.max = maximum
	}
	if restorePerSecond > 0 {
		b.restore = restorePerSecond
	}
	b.avail = min(b.avail, available, b.max)
}

// Available is the model's current number of free points.
func (b *CostBucket) Available() float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refillLocked(time.Now())
	return b.avail
}
