// Package syncer runs syncs between tables and provider objects: inbound
// runs page through a connector's records into rows (filter, mapping,
// incremental or full refresh with deletion detection, resumable page by
// page), outbound runs push changed rows back in batches (match key, null
// protection, echo suppression, dry run). It records every run. It knows
// tables and mappings, nothing about any single provider.
package syncer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"patchbay/internal/catalog"
	"patchbay/internal/connection"
	"patchbay/internal/connector"
	"patchbay/internal/filter"
	"patchbay/internal/store"
)

// Directions, modes and triggers.
const (
	Inbound     = "inbound"
	Outbound    = "outbound"
	Incremental = "incremental"
	Full        = "full"

	TriggerManual    = "manual"
	TriggerSchedule  = "schedule"
	TriggerWebhook   = "webhook"
	TriggerReconnect = "reconnect"
	TriggerChange    = "change" // a row of the table changed (outbound realtime)
)

// Run statuses.
const (
	StatusRunning     = "running"
	StatusSucceeded   = "succeeded"
	StatusPartial     = "partial" // finished with per-row errors
	StatusFailed      = "failed"
	StatusRateLimited = "rate_limited"
	StatusInterrupted = "interrupted" // stopped (shutdown, crash); the next run resumes
)

// ErrBusy says the sync is running already, in this process or another;
// one run per sync at a time.
var ErrBusy = errors.New("the sync is running already; wait for the run to finish")

// PausedError says a paused sync was asked to run.
type PausedError struct{ Reason string }

func (e *PausedError) Error() string {
	if e.Reason == connection.PauseUser {
		return "the sync is paused; resume it first (PATCH /syncs/{id} {\"paused\": false})"
	}
	return fmt.Sprintf("the sync is paused (%s); reconnect the connection to resume it", e.Reason)
}

// Config holds the engine's dependencies and settings.
type Config struct {
	Store  *store.Store
	Conns  *connection.Service
	Logger *slog.Logger
	Now    func() time.Time // default time.Now
	// RowErrorSamples is how many row errors a run keeps. Default 20.
	RowErrorSamples int
	// PollInterval, when set, is how often every realtime sync polls besides
	// its notifications (tests). Default: each provider's
	// (connector.Realtime.PollInterval: a minute for Salesforce, 5 min for
	// the providers that notify).
	PollInterval time.Duration
	// DefaultInterval is the schedule of every: without a duration. Default 15 min.
	DefaultInterval time.Duration
	// RowsChanged is told when a run changed rows of a table (outbound
	// realtime syncs push them). Optional.
	RowsChanged func(tableID string)
	// PageSize overrides the catalog's page size (tests). 0: the catalog's.
	PageSize int
	// LeaseTTL is how long a run's lease on its sync lasts without renewal
	// (a run renews it every third of that, and with every page). A run
	// whose process dies is resumed elsewhere once it expired. Default 15 s.
	LeaseTTL time.Duration
}

// Engine runs syncs.
type Engine struct {
	cfg     Config
	mu      sync.Mutex
	running map[string]bool
}

// New returns an Engine.
func New(cfg Config) *Engine {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.RowErrorSamples <= 0 {
		cfg.RowErrorSamples = 20
	}
	if cfg.DefaultInterval <= 0 {
		cfg.DefaultInterval = 15 * time.Minute
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = 15 * time.Second
	}
	return &Engine{cfg: cfg, running: map[string]bool{}}
}

// Catalog is the provider catalog the engine validates against.
func (e *Engine) Catalog() *catalog.Catalog { return e.cfg.Conns.Catalog() }

// Options are how a run was asked for.
type Options struct {
	Trigger string
	DryRun  bool // outbound only: plan, write nothing, record nothing
	// Draft, on a dry run, is the sync with unsaved changes to plan with
	// instead of its saved settings (the preview before saving an edit).
	Draft *store.Sync
}

// PlanItem is what an outbound run would do with one row.
type PlanItem struct {
	RowID      string            `json:"row_id"`
	Action     string            `json:"action"` // create, update, unchanged, error
	ExternalID string            `json:"external_id,omitempty"`
	MatchBy    string            `json:"match_by,omitempty"` // create-or-update by this field at write time
	Fields     map[string]string `json:"fields,omitempty"`
	Error      string            `json:"error,omitempty"`
}

// Result is a finished run.
type Result struct {
	Run       *store.Run
	Plan      []PlanItem // dry runs
	ResumesAt time.Time  // rate limited: when the budget opens again
	Note      string     // e.g. stopped at the data limit
}

// maxPlanItems bounds a dry run's answer.
const maxPlanItems = 500

func (e *Engine) claim(syncID string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.running[syncID] {
		return false
	}
	e.running[syncID] = true
	return true
}

func (e *Engine) release(syncID string) {
	e.mu.Lock()
	delete(e.running, syncID)
	e.mu.Unlock()
}

// Run runs a sync now and returns the recorded run. It is the one entry
// point of every trigger: Sync now calls it directly, the run_sync job of
// the job engine for everything else. A run that meets an error still
// returns its record with the error in it; the error return is for runs that
// could not start (busy, paused, gone).
//
// One run per sync at a time holds across processes: a claim in this
// process, then a lease on the sync in the database (store.Lease) that the
// run renews while it lasts and checks, as a fencing token, in the
// transaction of every page it writes. A run that lost its lease (it was cut
// off from the database longer than the lease lasts, and another run took
// the sync) can therefore write nothing more. The sync is read after both
// are taken, so the run starts from the position the previous run saved.
func (e *Engine) Run(ctx context.Context, syncID string, o Options) (*Result, error) {
	y, err := e.startable(ctx, syncID, o)
	if err != nil {
		return nil, err
	}
	if !e.claim(syncID) {
		return nil, ErrBusy
	}
	defer e.release(syncID)
	lease, err := e.cfg.Store.AcquireLease(ctx, syncID, store.NewID("lease"), e.cfg.Now(), e.cfg.LeaseTTL)
	if errors.Is(err, store.ErrLeaseHeld) {
		return nil, ErrBusy
	}
	if err != nil {
		return nil, err
	}
	ctx, stopRenew := e.renew(ctx, lease)
	defer stopRenew()
	// Holding the lease, nobody runs this sync: a run still marked running
	// was left by a run whose lease ran out (its process died mid-run).
	if n, err := e.cfg.Store.InterruptOrphanRunsOf(ctx, syncID, "the process running it stopped (crash or kill); this run resumes from the last saved page", time.Now()); err != nil {
		e.giveUp(lease)
		return nil, err
	} else if n > 0 {
		e.cfg.Logger.Warn("runs left running by a stopped process recorded as interrupted", "sync", syncID, "runs", n)
	}
	if y, err = e.startable(ctx, syncID, o); err != nil { // read again: a run that just ended moved its position
		e.giveUp(lease)
		return nil, err
	}
	if o.Trigger == "" {
		o.Trigger = TriggerManual
	}
	r := &run{e: e, y: y, o: o, lease: lease, res: &Result{Run: &store.Run{SyncID: y.ID, WorkspaceID: y.WorkspaceID, Trigger: o.Trigger,
		Status: StatusRunning, StartedAt: e.cfg.Now().UTC()}}}
	if !o.DryRun {
		if err := e.cfg.Store.SaveRun(ctx, r.res.Run); err != nil {
			e.giveUp(lease)
			return nil, err
		}
	}
	var runErr error
	switch y.Direction {
	case Inbound:
		runErr = r.inbound(ctx)
	case Outbound:
		runErr = r.outbound(ctx)
	default:
		runErr = fmt.Errorf("sync %s has an unknown direction %q", y.ID, y.Direction)
	}
	if cause := context.Cause(ctx); errors.Is(cause, store.ErrLeaseLost) {
		runErr = cause
	}
	e.finish(ctx, r, runErr)
	return r.res, nil
}

// renew keeps the lease alive every third of its length while the run lasts;
// when it was taken over, the returned context is cancelled with
// store.ErrLeaseLost as its cause.
func (e *Engine) renew(ctx context.Context, l *store.Lease) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(e.cfg.LeaseTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			err := e.cfg.Store.RenewLease(ctx, l, e.cfg.Now(), e.cfg.LeaseTTL)
			if errors.Is(err, store.ErrLeaseLost) {
				cancel(err)
				return
			}
			if err != nil && ctx.Err() == nil {
				// The database is out of reach: keep trying; if the lease
				// runs out meanwhile, the next write finds out.
				e.cfg.Logger.Warn("renew sync lease", "sync", l.SyncID, "err", err)
			}
		}
	}()
	return ctx, func() {
		close(done)
		wg.Wait()
		cancel(nil)
	}
}

// giveUp releases the lease of a run that did not start, keeping the sync's
// schedule as it was.
func (e *Engine) giveUp(l *store.Lease) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.cfg.Store.ReleaseLease(ctx, l); err != nil {
		e.cfg.Logger.Warn("release sync lease", "sync", l.SyncID, "err", err)
	}
}

// startable reads the sync and says why it cannot run, if it cannot.
func (e *Engine) startable(ctx context.Context, syncID string, o Options) (*store.Sync, error) {
	y, err := e.cfg.Store.SyncByID(ctx, syncID)
	if err != nil {
		return nil, err
	}
	if y.Paused {
		return nil, &PausedError{Reason: y.PauseReason}
	}
	if o.DryRun && o.Draft != nil && o.Draft.ID == y.ID {
		y = o.Draft
	}
	if o.DryRun && y.Direction != Outbound {
		return nil, fmt.Errorf("dry run: %w", &connection.ValidationError{Fields: []catalog.FieldError{{Field: "dry_run", Message: "only outbound syncs have a dry run"}}})
	}
	return y, nil
}

// run is the state of one run.
type run struct {
	e       *Engine
	y       *store.Sync
	o       Options
	res     *Result
	lease   *store.Lease
	changed bool // rows of the table changed
	// obj is the sync's object as the provider described it at the start of
	// the run (nil for providers without a metadata API): values convert by its field types.
	obj *connector.SchemaObject
}

// fence is the first statement of every transaction in which a run writes:
// it fails with store.ErrLeaseLost when another run took the sync over.
func (r *run) fence(ctx context.Context, tx *store.Tx) error {
	if r.lease == nil {
		return nil
	}
	return tx.CheckLease(ctx, r.lease, r.e.cfg.Now(), r.e.cfg.LeaseTTL)
}

func (r *run) rowError(rowID, extID string, err error) {
	r.res.Run.Failed++
	if len(r.res.Run.RowErrors) < r.e.cfg.RowErrorSamples {
		r.res.Run.RowErrors = append(r.res.Run.RowErrors, store.RowError{RowID: rowID, ExternalID: extID, Message: err.Error()})
	}
}

// finish classifies the outcome, records the run and schedules the next one.
func (e *Engine) finish(ctx context.Context, r *run, runErr error) {
	ctx = context.WithoutCancel(ctx) // the record must land even when the run was cancelled
	run := r.res.Run
	run.FinishedAt = e.cfg.Now().UTC()
	next := e.nextRun(ctx, r.y, run.FinishedAt)
	switch {
	case errors.Is(runErr, store.ErrLeaseLost):
		// Another run owns the sync now and sets its schedule.
		run.Status, run.ErrorClass = StatusInterrupted, "interrupted"
		run.Error = "the run lost its hold on the sync (cut off from the database too long); another run took over from the last saved page"
	case runErr == nil && run.Failed > 0:
		run.Status = StatusPartial
	case runErr == nil:
		run.Status = StatusSucceeded
	case errors.Is(runErr, context.Canceled) || errors.Is(runErr, context.DeadlineExceeded):
		run.Status, run.ErrorClass = StatusInterrupted, "interrupted"
		run.Error = "the run stopped before the end; the next run resumes from the last saved page"
		if !next.IsZero() {
			next = run.FinishedAt // a scheduled sync resumes as soon as a process can run it
		}
	case connector.ClassOf(runErr) == connector.ClassRateLimited:
		var ce *connector.Error
		errors.As(runErr, &ce)
		wait := max(ce.RetryAfter, 10*time.Second)
		r.res.ResumesAt = run.FinishedAt.Add(wait)
		run.Status, run.ErrorClass = StatusRateLimited, string(connector.ClassRateLimited)
		run.Error = "rate limited, resumes at " + r.res.ResumesAt.Format(time.RFC3339)
		next = r.res.ResumesAt
	default:
		run.Status, run.Error = StatusFailed, runErr.Error()
		run.ErrorClass = string(connector.ClassOf(runErr))
		var ce *connector.Error
		if errors.As(runErr, &ce) || errors.Is(runErr, connection.ErrNoCredentials) {
			if conn, err := e.cfg.Conns.SyncFailed(ctx, r.y.ConnectionID, r.y.ID, runErr); err != nil {
				e.cfg.Logger.Warn("report sync failure to connection", "sync", r.y.ID, "err", err)
			} else if conn {
				run.ErrorClass = "connection:" + run.ErrorClass
			}
		}
	}
	if r.res.Note != "" && run.Error == "" {
		run.Error = r.res.Note
	}
	if r.o.DryRun {
		e.giveUp(r.lease)
		return
	}
	if err := e.cfg.Store.SaveRun(ctx, run); err != nil {
		e.cfg.Logger.Error("record run", "sync", r.y.ID, "err", err)
	}
	if err := e.cfg.Store.FinishLease(ctx, r.lease, next); errors.Is(err, store.ErrLeaseLost) {
		e.cfg.Logger.Warn("sync run lost its lease; the run that took over schedules the sync", "sync", r.y.ID)
	} else if err != nil {
		e.cfg.Logger.Error("schedule sync", "sync", r.y.ID, "err", err)
	}
	if r.changed && e.cfg.RowsChanged != nil {
		e.cfg.RowsChanged(r.y.TableID)
	}
	e.cfg.Logger.Info("sync run", "sync", r.y.ID, "direction", r.y.Direction, "trigger", run.Trigger, "status", run.Status,
		"read", run.Read, "created", run.Created, "updated", run.Updated, "unchanged", run.Unchanged, "failed", run.Failed, "err", run.Error)
}

// nextRun is when a sync's schedule runs it next after now (zero: manual).
func (e *Engine) nextRun(ctx context.Context, y *store.Sync, now time.Time) time.Time {
	sch, err := ParseSchedule(y.Schedule, e.cfg.DefaultInterval)
	if err != nil {
		return time.Time{}
	}
	switch {
	case sch.Realtime:
		return now.Add(e.pollInterval(ctx, y))
	case sch.Every > 0:
		return now.Add(sch.Every)
	}
	return time.Time{}
}

// pollInterval is how often a realtime sync polls: its provider's interval.
func (e *Engine) pollInterval(ctx context.Context, y *store.Sync) time.Duration {
	if e.cfg.PollInterval > 0 {
		return e.cfg.PollInterval
	}
	c, err := e.cfg.Store.ConnectionByID(ctx, y.ConnectionID)
	if err != nil {
		return connector.DefaultRealtime.PollInterval
	}
	return e.cfg.Conns.RealtimeOf(c.Provider).PollInterval
}

// Schedule is a parsed schedule.
type Schedule struct {
	Manual   bool
	Every    time.Duration
	Realtime bool
}

// MinInterval is the shortest every: schedule.
const MinInterval = time.Minute

// MaxInterval is the longest every: schedule: beyond a month a schedule is
// a typing slip (every:99999999m is 190 years), not a plan.
const MaxInterval = 31 * 24 * time.Hour

// ParseSchedule reads manual, every:<duration> (every: alone is def) or realtime.
func ParseSchedule(s string, def time.Duration) (Schedule, error) {
	switch {
	case s == "" || s == "manual":
		return Schedule{Manual: true}, nil
	case s == "realtime":
		return Schedule{Realtime: true}, nil
	case s == "every" || s == "every:":
		return Schedule{Every: def}, nil
	case len(s) > 6 && s[:6] == "every:":
		d, err := time.ParseDuration(s[6:])
		if err != nil {
			return Schedule{}, fmt.Errorf("%q is not a duration; write every:15m, every:1h30m", s[6:])
		}
		if d < MinInterval {
			return Schedule{}, fmt.Errorf("every: must be at least %s", MinInterval)
		}
		if d > MaxInterval {
			return Schedule{}, fmt.Errorf("every: must be at most %s (31 days); for rarer runs use manual and Sync now", MaxInterval)
		}
		return Schedule{Every: d}, nil
	}
	return Schedule{}, fmt.Errorf("unknown schedule %q; use manual, every:<duration> (e.g. every:15m) or realtime", s)
}

// session opens the connection's live session and the provider's entry.
func (r *run) session(ctx context.Context) (connector.Session, connector.Connector, *catalog.Provider, error) {
	c, err := r.e.cfg.Store.ConnectionByID(ctx, r.y.ConnectionID)
	if err != nil {
		return connector.Session{}, nil, nil, err
	}
	p, ok := r.e.Catalog().Get(c.Provider)
	if !ok {
		return connector.Session{}, nil, nil, fmt.Errorf("provider %q left the catalog", c.Provider)
	}
	sess, conn, err := r.e.cfg.Conns.Session(ctx, c)
	if err != nil {
		return connector.Session{}, nil, nil, err
	}
	return sess, conn, p, nil
}

// inboundState is kept in the sync's cursor, saved with every page.
type inboundState struct {
	Key       string    `json:"key"`                   // mode and filter the pass started with; a change starts over
	Since     time.Time `json:"since,omitzero"`        // incremental: this pass reads records modified at or after
	Cursor    string    `json:"cursor,omitempty"`      // position within the pass
	HighWater time.Time `json:"high_water,omitzero"`   // newest modification seen in the pass
	Started   time.Time `json:"started,omitzero"`      // when the pass began
	Gen       string    `json:"gen,omitempty"`         // full refresh: the generation marking seen records
	Pages     int       `json:"pages,omitempty"`       // pages committed in the pass
	Completed time.Time `json:"completed,omitzero"`    // when the last pass finished
	Filtered  string    `json:"pushed_down,omitempty"` // the filter the provider applies, for the record
	// Mapped is the mapping (with its columns' types) that the last whole
	// pass applied; until a pass has applied the current one, records read
	// again unchanged are mapped again.
	Mapped string `json:"mapped,omitempty"`
}

func loadState(y *store.Sync) inboundState {
	var st inboundState
	if y.Cursor != "" {
		if err := json.Unmarshal([]byte(y.Cursor), &st); err != nil {
			return inboundState{} // an unreadable position means starting over, which is safe: upserts are idempotent
		}
	}
	if key := y.Mode + "|" + y.Filter; st.Key != key {
		st = inboundState{Key: key}
	}
	return st
}

func (st inboundState) text() string {
	b, _ := json.Marshal(st)
	return string(b)
}

// parseFilter reads a sync's saved filter (validated when saved).
func parseFilter(y *store.Sync) (filter.Expr, error) {
	e, err := filter.Parse(y.Filter)
	if err != nil {
		return nil, fmt.Errorf("the sync's filter: %w", err)
	}
	return e, nil
}
