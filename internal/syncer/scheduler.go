package syncer

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"patchbay/internal/store"
)

// SchedulerConfig configures a Scheduler.
type SchedulerConfig struct {
	Store  *store.Store
	Logger *slog.Logger
	// Dispatch hands a run that is due to whatever runs syncs (the app
	// enqueues a run_sync job). It reports false when a run of the sync is
	// queued or running already; the request is then kept and dispatched
	// again after Tick, so that a change that arrived during a run gets a
	// run of its own. Required.
	Dispatch func(ctx context.Context, syncID, trigger string) (bool, error)
	// Tick is how often kept requests are tried again. Default 1 s.
	Tick time.Duration
	// Debounce delays outbound realtime pushes after a row change, so that a
	// burst of edits makes one push. Default 1 s.
	Debounce time.Duration
	// RunRetention and KeepRuns: runs older than RunRetention are deleted,
	// except the newest KeepRuns of each sync. Defaults 30 days and 50.
	RunRetention time.Duration
	KeepRuns     int
}

// Scheduler turns the events that ask for a run — a row change for the
// outbound realtime syncs of its table (debounced), a provider webhook, a
// reconnect's catch-up — into dispatched runs, and prunes old runs. It runs
// nothing itself: scheduled runs (every:…, realtime polling) come from the
// job engine's sweep, and the job engine runs them all, one run per sync at
// a time across processes.
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
	if s.cfg.Dispatch == nil {
		return errors.New("scheduler: SchedulerConfig.Dispatch is required")
	}
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

// Stop ends the loop and waits for it. Requests not dispatched yet are
// dropped: a realtime sync's polling (the sweep) catches up on them.
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

// dispatch hands over every request that is due; those refused (a run is
// queued or running) or failed are kept for the next tick.
func (s *Scheduler) dispatch(ctx context.Context) {
	now := time.Now()
	due := map[string]string{}
	s.mu.Lock()
	for id, q := range s.queued {
		if !q.at.After(now) {
			due[id] = q.trigger
			delete(s.queued, id)
		}
	}
	s.mu.Unlock()
	for id, trigger := range due {
		ok, err := s.cfg.Dispatch(ctx, id, trigger)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			s.cfg.Logger.Warn("dispatch sync run", "sync", id, "trigger", trigger, "err", err)
		}
		if !ok || err != nil {
			s.Queue(id, trigger, now.Add(s.cfg.Tick))
		}
	}
}
