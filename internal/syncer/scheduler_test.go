package syncer_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"patchbay/internal/store"
	"patchbay/internal/syncer"
)

type dispatched struct{ id, trigger string }

// The scheduler runs nothing itself: it hands due requests to Dispatch,
// keeps one that was refused (a run of the sync is queued or running) or
// failed and hands it over again a tick later, and lets an earlier request
// for a sync win over a later one.
func TestSchedulerDispatchesAndKeepsRefusedRequests(t *testing.T) {
	t.Parallel()
	calls := make(chan dispatched, 10)
	answers := make(chan error, 10) // nil: accepted; errBusy: refused; other: failed
	errBusy := errors.New("busy")
	s := syncer.NewScheduler(syncer.SchedulerConfig{Store: store.OpenTest(t, store.SQLite), Tick: 20 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Dispatch: func(ctx context.Context, id, trigger string) (bool, error) {
			calls <- dispatched{id, trigger}
			switch err := <-answers; {
			case errors.Is(err, errBusy):
				return false, nil
			case err != nil:
				return false, err
			}
			return true, nil
		}})
	if err := syncer.NewScheduler(syncer.SchedulerConfig{}).Start(context.Background()); err == nil {
		t.Fatal("a scheduler without Dispatch started")
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	next := func() dispatched {
		t.Helper()
		select {
		case d := <-calls:
			return d
		case <-time.After(10 * time.Second):
			t.Fatal("nothing dispatched within 10 s")
			return dispatched{}
		}
	}

	answers <- errBusy
	answers <- errors.New("database away")
	answers <- nil
	s.Queue("syn_a", syncer.TriggerWebhook, time.Now())
	for i, why := range []string{"first", "after a refusal", "after a failure"} {
		if d := next(); d != (dispatched{"syn_a", syncer.TriggerWebhook}) {
			t.Fatalf("dispatch %d (%s): %+v", i, why, d)
		}
	}

	// A later request does not push back an earlier one.
	answers <- nil
	s.Queue("syn_b", syncer.TriggerReconnect, time.Now().Add(50*time.Millisecond))
	s.Queue("syn_b", syncer.TriggerChange, time.Now().Add(time.Hour))
	if d := next(); d != (dispatched{"syn_b", syncer.TriggerReconnect}) {
		t.Fatalf("dispatched %+v", d)
	}
	select {
	case d := <-calls:
		t.Fatalf("dispatched again after acceptance: %+v", d)
	case <-time.After(100 * time.Millisecond): // five ticks with nothing due
	}
}
