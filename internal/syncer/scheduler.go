package syncer

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"patchbay/internal/store"
)

// SchedulerConfig configures the in-process scheduler.
type SchedulerConfig struct {
	Engine *Engine
	Store  *store.Store
	Logger *slog.Logger
	// Tick is how often due syncs are looked for. Default 1 s.
	Tick time.Duration
	// Debounce delays outbound realtime pushes after a row change, so that a
	// burst of edits makes one push. Default 1 s.
	Debounce time.Duration
	// RunRetention and KeepRuns: runs older than RunRetention are deleted,
	// except the newest KeepRuns of each sync. Defaults 30 days and 50.
	RunRetention time.Duration
	KeepRuns     int
}

// Scheduler runs due syncs in this process, one run per sync at a time.
// (Scale-out moves this onto a job engine; Engine.Run is the entry point a
// job calls.)
type Scheduler struct {
	cfg  SchedulerConfig
	wake chan struct{}

	mu     sync.Mutex
	queued map[string]queued
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type queued struct {
	at      time.Time
	trigger string
}

// NewScheduler returns a stopped scheduler.
func NewScheduler(cfg SchedulerConfig) *Scheduler {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Tick <= 0 {
		cfg.Tick = time.Second
	}
	if cfg.Debounce <= 0 {
		cfg.Debounce = time.Second
	}
	if cfg.RunRetention <= 0 {
		cfg.RunRetention = 30 * 24 * time.Hour
	}
	if cfg.KeepRuns <= 0 {
		cfg.KeepRuns = 50
	}
	return &Scheduler{cfg: cfg, wake: make(chan struct{}, 1), queued: map[string]queued{}}
}

// Queue asks for a run of a sync at (or soon after) at; an earlier request
// for the same sync wins. A sync that is running gets its run once it ends.
func (s *Scheduler) Queue(syncID, trigger string, at time.Time) {
	s.mu.Lock()
	if q, ok := s.queued[syncID]; !ok || at.Before(q.at) {
		s.queued[syncID] = queued{at: at, trigger: trigger}
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// RowsChanged queues a push for each outbound realtime sync of the table.
func (s *Scheduler) RowsChanged(tableID string) {
	ctx := context.Background()
	ys, err := s.cfg.Store.ListTableSyncsAll(ctx, tableID)
	if err != nil {
		s.cfg.Logger.Warn("find realtime syncs", "table", tableID, "err", err)
		return
	}
	for _, y := range ys {
		if y.Direction == Outbound && y.Schedule == "realtime" && !y.Paused {
			s.Queue(y.ID, TriggerChange, time.Now().Add(s.cfg.Debounce))
		}
	}
}

// Start runs the scheduler until Stop or ctx ends.
func (s *Scheduler) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil {
		return errors.New("scheduler: started twice")
	}
	ctx, s.cancel = context.WithCancel(ctx)
	s.wg.Add(1)
	go s.loop(ctx)
	return nil
}

// Stop ends the loop and waits for runs in flight; they stop at their next
// page (committed work stays, the next run resumes).
func (s *Scheduler) Stop() {
	s.mu.Lock()
	cancel := s.cancel
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	s.wg.Wait()
}

func (s *Scheduler) loop(ctx context.Context) {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.Tick)
	defer t.Stop()
	lastPrune := time.Time{}
	for {
		s.dispatch(ctx)
		if time.Since(lastPrune) > time.Hour {
			lastPrune = time.Now()
			if n, err := s.cfg.Store.PruneRuns(ctx, time.Now().Add(-s.cfg.RunRetention), s.cfg.KeepRuns); err != nil {
				s.cfg.Logger.Warn("prune runs", "err", err)
			} else if n > 0 {
				s.cfg.Logger.Info("pruned old runs", "runs", n)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.wake:
		}
	}
}

// dispatch starts every due run whose sync is not running.
func (s *Scheduler) dispatch(ctx context.Context) {
	now := time.Now()
	due := map[string]string{}
	s.mu.Lock()
	for id, q := range s.queued {
		if !q.at.After(now) && !s.cfg.Engine.Running(id) {
			due[id] = q.trigger
			delete(s.queued, id)
		}
	}
	s.mu.Unlock()
	ys, err := s.cfg.Store.DueSyncs(ctx, now)
	if err != nil && ctx.Err() == nil {
		s.cfg.Logger.Warn("find due syncs", "err", err)
	}
	for _, y := range ys {
		if _, ok := due[y.ID]; !ok && !s.cfg.Engine.Running(y.ID) {
			due[y.ID] = TriggerSchedule
		}
	}
	for id, trigger := range due {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			_, err := s.cfg.Engine.Run(ctx, id, Options{Trigger: trigger})
			var pe *PausedError
			switch {
			case errors.Is(err, ErrBusy):
				s.Queue(id, trigger, time.Now().Add(s.cfg.Tick))
			case err != nil && !errors.As(err, &pe) && ctx.Err() == nil:
				s.cfg.Logger.Warn("scheduled run", "sync", id, "err", err)
			}
			select {
			case s.wake <- struct{}{}: // a run that ended may free a queued one
			default:
			}
		}()
	}
}
