package jobs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Local is the engine for one process on SQLite: the same job kinds, handlers
// and uniqueness rule as River, with jobs held in memory (see the package
// comment for why).
type Local struct {
	cfg Config

	mu      sync.Mutex
	active  map[string]bool // kind + subject of every queued, running or retrying job
	stopped bool

	slots  map[string]chan struct{} // per queue: its concurrency in tokens
	quit   chan struct{}            // closed by Stop: queued jobs are dropped, retries end
	runCtx context.Context
	cancel context.CancelFunc // cancels running jobs once StopTimeout passed
	jobs   sync.WaitGroup
	sweeps sync.WaitGroup
}

var _ Engine = (*Local)(nil)

// NewLocal builds a Local engine.
func NewLocal(cfg Config) *Local {
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	slots := map[string]chan struct{}{
		QueueSyncs:  make(chan struct{}, cfg.Concurrency),
		QueueUpkeep: make(chan struct{}, cfg.UpkeepConcurrency),
	}
	return &Local{cfg: cfg, active: map[string]bool{}, slots: slots, quit: make(chan struct{}), runCtx: ctx, cancel: cancel}
}

// Enqueue queues a job unless one for the same subject is active.
func (l *Local) Enqueue(_ context.Context, args Args) (Result, error) {
	if !l.cfg.Handlers.has(args.Kind()) {
		return Result{}, fmt.Errorf("enqueue %s: %w", args.Kind(), ErrNoHandler)
	}
	key := args.Kind() + "\x00" + args.uniqueKey()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return Result{}, ErrStopped
	}
	if l.active[key] {
		return Result{Duplicate: true}, nil
	}
	l.active[key] = true
	l.jobs.Add(1)
	go l.work(key, args)
	return Result{}, nil
}

// EnqueueClaimed writes the claim in a store transaction (Config.InTx) and
// queues the job once it committed. The job's subject is reserved first, so
// a claim is never written for a job that would be skipped as a duplicate
// (its due time would be lost); one process owns a SQLite store.
func (l *Local) EnqueueClaimed(ctx context.Context, args Args, claim func(context.Context, Execer) (bool, error)) (Result, error) {
	if l.cfg.InTx == nil {
		return Result{}, fmt.Errorf("enqueue %s: a claim needs Config.InTx", args.Kind())
	}
	if !l.cfg.Handlers.has(args.Kind()) {
		return Result{}, fmt.Errorf("enqueue %s: %w", args.Kind(), ErrNoHandler)
	}
	key := args.Kind() + "\x00" + args.uniqueKey()
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		return Result{}, ErrStopped
	}
	if l.active[key] {
		l.mu.Unlock()
		return Result{Duplicate: true}, nil
	}
	l.active[key] = true
	l.mu.Unlock()
	ok := false
	err := l.cfg.InTx(ctx, func(ex Execer) (err error) {
		ok, err = claim(ctx, ex)
		return err
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil || !ok || l.stopped {
		delete(l.active, key)
		switch {
		case err != nil:
			return Result{}, fmt.Errorf("enqueue %s: %w", args.Kind(), err)
		case !ok:
			return Result{Duplicate: true}, nil
		}
		return Result{}, ErrStopped
	}
	l.jobs.Add(1)
	go l.work(key, args)
	return Result{}, nil
}

// work runs one job, retrying failures with River's backoff (attempt⁴ s) and
// snoozed jobs after their wait (which, as on River, is not an attempt).
func (l *Local) work(key string, args Args) {
	defer l.jobs.Done()
	defer func() {
		l.mu.Lock()
		delete(l.active, key)
		l.mu.Unlock()
	}()
	if d, ok := args.(delayed); ok {
		t := time.NewTimer(d.delay())
		select {
		case <-t.C:
		case <-l.quit:
			t.Stop()
			return
		}
	}
	slots := l.slots[args.queue()]
	for attempt := 1; ; attempt++ {
		select {
		case slots <- struct{}{}:
		case <-l.quit:
			return
		}
		err := l.runOnce(args)
		<-slots
		if err == nil {
			return
		}
		wait := time.Duration(attempt*attempt*attempt*attempt) * time.Second
		if se := (*SnoozeError)(nil); errors.As(err, &se) {
			l.cfg.Logger.Debug("job snoozed", "kind", args.Kind(), "subject", args.uniqueKey(), "after", se.After)
			wait = se.After
			attempt--
		} else {
			l.cfg.Logger.Warn("job failed", "kind", args.Kind(), "subject", args.uniqueKey(), "attempt", attempt, "err", err)
			if attempt >= maxAttempts || args.Kind() == (Sweep{}).Kind() {
				return
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-l.quit:
			t.Stop()
			return
		}
	}
}

func (l *Local) runOnce(args Args) (err error) {
	ctx, cancel := context.WithTimeout(l.runCtx, l.cfg.JobTimeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%s panicked: %v", args.Kind(), p)
		}
	}()
	return l.cfg.Handlers.run(ctx, l, l.cfg.Now, l.cfg.Logger, args)
}

// Start sweeps for due work now and every SweepInterval until Stop.
func (l *Local) Start(context.Context) error {
	if l.cfg.Handlers.Due == nil {
		return nil
	}
	l.sweeps.Add(1)
	go func() {
		defer l.sweeps.Done()
		t := time.NewTicker(l.cfg.SweepInterval)
		defer t.Stop()
		for {
			if _, err := l.Enqueue(l.runCtx, Sweep{}); err != nil && err != ErrStopped {
				l.cfg.Logger.Warn("sweep", "err", err)
			}
			select {
			case <-t.C:
			case <-l.quit:
				return
			}
		}
	}()
	return nil
}

// Stop takes no more jobs, drops queued ones, lets running ones finish for up
// to StopTimeout and then cancels them.
func (l *Local) Stop(ctx context.Context) error {
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		return nil
	}
	l.stopped = true
	close(l.quit)
	l.mu.Unlock()
	l.sweeps.Wait()
	done := make(chan struct{})
	go func() {
		l.jobs.Wait()
		close(done)
	}()
	t := time.NewTimer(l.cfg.StopTimeout)
	defer t.Stop()
	select {
	case <-done:
		l.cancel()
		return nil
	case <-t.C:
		l.cfg.Logger.Warn("jobs still running after the stop timeout; cancelling them", "timeout", l.cfg.StopTimeout)
	case <-ctx.Done():
	}
	l.cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop jobs: %w", ctx.Err())
	}
}
