package transport

import (
	"context"
	"testing"
	"time"

	"patchbay/internal/connector"
)

func TestCostBucketModel(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := NewCostBucket(100, 1000)
	first, err := b.Take(ctx, 90)
	if err != nil {
		t.Fatal(err)
	}
	// The provider reports 95 left after a refund; 90 were taken by this
	// request, 0 are in flight elsewhere.
	b.Done(first, &connector.CostReport{Available: 95, Maximum: 100, RestorePerSecond: 1000})
	if got := b.Available(); got < 95 {
		t.Fatalf("refund not credited: %.1f", got)
	}
	// A request in flight keeps its points when another's report arrives.
	older, _ := b.Take(ctx, 50)
	newer, _ := b.Take(ctx, 10)
	b.Done(newer, &connector.CostReport{Available: 90, Maximum: 100, RestorePerSecond: 1000})
	if got := b.Available(); got > 45 {
		t.Fatalf("in-flight points forgotten: %.1f", got)
	}
	// The older request's answer arrives last: its report may predate the
	// newer one's charge and must not bring back points already spent.
	before := b.Available()
	b.Done(older, &connector.CostReport{Available: 100, Maximum: 100, RestorePerSecond: 1000})
	if got := b.Available(); got > before+5 {
		t.Fatalf("a stale report was adopted: %.1f after %.1f", got, before)
	}
	// A smaller bucket reported by the provider is adopted.
	last, _ := b.Take(ctx, 0)
	b.Done(last, &connector.CostReport{Available: 0, Maximum: 20, RestorePerSecond: 2000})
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := b.Take(ctx, 500); err != nil { // more than the bucket: waits for a full one
		t.Fatal(err)
	}
}

func TestBudgetCapsConcurrency(t *testing.T) {
	t.Parallel()
	b := NewBudgetFor(Limit{Concurrency: 2})
	ctx := context.Background()
	r1, _ := b.acquire(ctx)
	r2, _ := b.acquire(ctx)
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := b.acquire(short); err == nil {
		t.Fatal("a third slot was granted")
	}
	r1()
	r1() // releasing twice frees one slot only
	r3, err := b.acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	short2, cancel2 := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel2()
	if _, err := b.acquire(short2); err == nil {
		t.Fatal("a double release freed two slots")
	}
	r2()
	r3()
}

func BenchmarkCostBucketTakeDone(b *testing.B) {
	cb := NewCostBucket(1e12, 1e12)
	ctx := context.Background()
	r := &connector.CostReport{Available: 1e12, Maximum: 1e12, RestorePerSecond: 1e12}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			t, _ := cb.Take(ctx, 10)
			cb.Done(t, r)
		}
	})
}
