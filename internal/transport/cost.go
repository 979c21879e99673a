package transport

import (
	"context"
	"sync"
	"time"

	"patchbay/internal/connector"
)

// CostBucket is the client's model of a provider's leaky bucket of cost
// points (Shopify's GraphQL Admin API: every query costs points, the bucket
// holds a maximum and refills at a fixed rate). Requests take their
// requested cost before they are sent and wait while the model says the
// bucket is short. When an answer reports the real bucket, the model becomes
// that report less what the requests still in flight have taken, so refunds
// (a query that cost less than requested) are credited and other clients of
// the same bucket are seen. It implements connector.CostMeter.
type CostBucket struct {
	mu       sync.Mutex
	max      float64
	restore  float64 // points per second
	avail    float64
	inFlight float64 // taken by requests not yet done
	at       time.Time
	done     uint64 // requests completed
}

var _ connector.CostMeter = (*CostBucket)(nil)

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

// reserveLocked is 50 ms of refill, at most 5 % of the bucket: the provider
// charges a request when it arrives, later than the model does.
func (b *CostBucket) reserveLocked() float64 {
	return min(b.restore*0.05, b.max*0.05)
}

// Take waits until cost points (and the reserve) are available and spends
// them. A cost above the bucket's size waits for a full bucket (the provider
// refuses such a query anyway, with its own error).
func (b *CostBucket) Take(ctx context.Context, cost float64) (connector.CostTicket, error) {
	for {
		b.mu.Lock()
		b.refillLocked(time.Now())
		need := min(cost+b.reserveLocked(), b.max)
		if b.avail >= need {
			b.avail -= cost
			b.inFlight += cost
			t := connector.CostTicket{Cost: cost, Mark: b.done}
			b.mu.Unlock()
			return t, nil
		}
		wait := time.Duration((need - b.avail) / b.restore * float64(time.Second))
		b.mu.Unlock()
		if err := sleep(ctx, max(wait, time.Millisecond)); err != nil {
			return connector.CostTicket{}, err
		}
	}
}

// Done ends a request that took t's points. A report from the provider
// replaces the model's figures, crediting refunds, when no other request
// completed meanwhile; otherwise the report may predate another request's
// charge (answers overtake each other), so it may only lower the model.
func (b *CostBucket) Done(t connector.CostTicket, r *connector.CostReport) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.inFlight = max(b.inFlight-t.Cost, 0)
	overtaken := b.done != t.Mark
	b.done++
	if r == nil {
		return
	}
	b.refillLocked(time.Now())
	if r.Maximum > 0 {
		b.max = r.Maximum
	}
	if r.RestorePerSecond > 0 {
		b.restore = r.RestorePerSecond
	}
	reported := min(r.Available-b.inFlight, b.max)
	if overtaken {
		reported = min(reported, b.avail)
	}
	b.avail = reported
}

// Available is the model's current number of free points.
func (b *CostBucket) Available() float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refillLocked(time.Now())
	return b.avail
}
