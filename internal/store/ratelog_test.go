package store

import (
	"context"
	"testing"
	"time"
)

// TestRateLogReservesWithinTheWindow: the shared log admits limit requests,
// then says how long to wait; an answered request leaves the window one
// window after its answer, one still in flight only after it.
func TestRateLogReservesWithinTheWindow(t *testing.T) {
	t.Parallel()
	s := OpenTest(t, Postgres)
	log := s.RateLog()
	ctx := context.Background()
	const key, limit, per = "con_a", 3, time.Hour
	var ids []int64
	for range limit {
		id, wait, err := log.Reserve(ctx, key, limit, per)
		if err != nil || wait != 0 || id == 0 {
			t.Fatalf("reserve: id %d wait %v err %v", id, wait, err)
		}
		ids = append(ids, id)
	}
	if _, wait, err := log.Reserve(ctx, key, limit, per); err != nil || wait <= per-time.Minute {
		t.Fatalf("reserve beyond the limit: wait %v err %v, want about %v", wait, err, per)
	}
	if err := log.Answered(ctx, key, ids[0], 2); err != nil {
		t.Fatal(err)
	}
	if n, err := log.Count(ctx, key, per); err != nil || n != limit+2 {
		t.Fatalf("count %d (%v), want %d: the answer's other clients are logged", n, err, limit+2)
	}
	// Another key is another window.
	if _, wait, err := log.Reserve(ctx, "con_b", limit, per); err != nil || wait != 0 {
		t.Fatalf("other key: wait %v err %v", wait, err)
	}
	// Requests still in flight hold a short window until they are answered.
	for range limit {
		if _, wait, err := log.Reserve(ctx, "con_c", limit, 10*time.Millisecond); err != nil || wait != 0 {
			t.Fatalf("short window: wait %v err %v", wait, err)
		}
	}
	if _, wait, err := log.Reserve(ctx, "con_c", limit, 10*time.Millisecond); err != nil || wait <= 0 {
		t.Fatalf("short window full: wait %v err %v", wait, err)
	}
}

func TestRateLogOnlyOnPostgres(t *testing.T) {
	t.Parallel()
	if OpenTest(t, SQLite).RateLog() != nil {
		t.Fatal("SQLite has one process; its budgets stay in memory")
	}
}
