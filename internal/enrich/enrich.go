// Package enrich runs action columns: columns of a table that ask data
// providers about each row (a lookup such as company_by_domain, its inputs
// read from columns and its outputs written to columns), through a
// waterfall of provider connections, under run conditions and a per-table
// daily budget, with a shared answer cache and a state per cell.
//
// New and changed rows reach it through Notify, which the tables service
// and the sync engine call through their RowsChanged hooks; neither knows
// about enrichment.
package enrich

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"patchbay/internal/catalog"
	"patchbay/internal/connection"
	"patchbay/internal/connector"
	"patchbay/internal/filter"
	"patchbay/internal/store"
	"patchbay/internal/tables"
)

// Looker is a connector that answers lookups (data providers).
type Looker interface {
	Lookup(ctx context.Context, s connector.Session, lookup string, input map[string]string) (data map[string]any, found bool, err error)
}

// Column statuses.
const (
	StatusActive  = "active"
	StatusStopped = "stopped"
)

// Run scopes of POST .../run.
const (
	OnlyAll    = "all"
	OnlyFailed = "failed"
	OnlyEmpty  = "empty"
)

// Run triggers.
const (
	TriggerCreated = "created" // the column was created on a table with rows
	TriggerRows    = "rows"    // new or changed rows
	TriggerManual  = "manual"
)

// Reasons a cell waits, was skipped or failed, besides the connection
// reasons of internal/connection and the connector failure classes.
const (
	ReasonBudget     = "budget_exhausted"
	ReasonRateLimit  = "rate_limited"
	ReasonCondition  = "condition"
	ReasonEmptyInput = "empty_input"
	ReasonStopped    = "column_stopped"
	ReasonCredits    = "insufficient_credits"
)

// MaxWaterfall bounds how many providers one column asks.
const MaxWaterfall = 5

// Config holds the service's dependencies and settings.
type Config struct {
	Store  *store.Store
	Conns  *connection.Service
	Logger *slog.Logger
	Now    func() time.Time // default time.Now
	// RowsChanged is told when enrichment wrote outputs into rows of a table
	// (outbound realtime syncs push them). Optional.
	RowsChanged func(tableID string)
	// CacheTTL is how long a provider's answer serves identical questions,
	// unless a table sets its own. Default 7 days.
	CacheTTL time.Duration
	// Workers bounds the lookups in flight in this process. Default 32.
	Workers int
	// Tick is how often due cells and stopped columns are looked at. Default 1 s.
	Tick time.Duration
	// RetryBase and RetryMax bound the backoff of cells failed by a provider
	// outage. Defaults 30 s and 1 h.
	RetryBase time.Duration
	RetryMax  time.Duration
	// Lease is how long a claimed cell is owned by its worker. Default 2 min.
	Lease time.Duration
	// ScanMargin: rows changed this long before the last scan are looked at
	// again (a transaction may commit a row dated before it). Default 1 min.
	ScanMargin time.Duration
}

// Service runs action columns.
type Service struct {
	cfg Config

	flight   singleflight.Group
	breakers *breakers

	mu       sync.Mutex
	dirty    map[string]bool // tables with new or changed rows
	sems     map[string]chan struct{}
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	scanWake chan struct{}
	workWake chan struct{}
}

type lookupSession struct {
	sess   connector.Session
	looker Looker
	limit  int // lookups in flight at most on the connection
}

// New returns a stopped Service.
func New(cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = 7 * 24 * time.Hour
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 32
	}
	if cfg.Tick <= 0 {
		cfg.Tick = time.Second
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = 30 * time.Second
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = time.Hour
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 2 * time.Minute
	}
	if cfg.ScanMargin <= 0 {
		cfg.ScanMargin = time.Minute
	}
	return &Service{cfg: cfg, breakers: newBreakers(cfg.RetryBase, cfg.RetryMax), dirty: map[string]bool{},
		sems:     map[string]chan struct{}{},
		scanWake: make(chan struct{}, 1), workWake: make(chan struct{}, 1)}
}

// Notify says rows of a table were created or changed; the table's action
// columns queue lookups for them soon after.
func (s *Service) Notify(tableID string) {
	s.mu.Lock()
	s.dirty[tableID] = true
	s.mu.Unlock()
	wake(s.scanWake)
}

func wake(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// ColumnRequest defines an action column.
type ColumnRequest struct {
	Name string
	Spec store.ActionSpec
}

func invalid(field, format string, args ...any) *connection.ValidationError {
	return &connection.ValidationError{Fields: []catalog.FieldError{{Field: field, Message: fmt.Sprintf(format, args...)}}}
}

// CreateColumn validates and adds an action column to a table. Output
// columns the table lacks are added as text columns. Every row of the
// table is queued for a lookup.
func (s *Service) CreateColumn(ctx context.Context, ws *store.Workspace, tableID string, req ColumnRequest) (*store.ActionColumn, error) {
	tb, err := s.cfg.Store.GetTable(ctx, ws.ID, tableID)
	if err != nil {
		return nil, err
	}
	existing, err := s.cfg.Store.ActionColumns(ctx, tb.ID)
	if err != nil {
		return nil, err
	}
	cols, errs := s.validate(ctx, ws, tb, existing, &req)
	if len(errs) > 0 {
		return nil, &connection.ValidationError{Fields: errs}
	}
	a := &store.ActionColumn{WorkspaceID: ws.ID, TableID: tb.ID, Name: req.Name, Spec: req.Spec, Status: StatusActive}
	err = s.cfg.Store.InTx(ctx, func(tx *store.Tx) error {
		if len(cols) != len(tb.Columns) {
			if err := tx.SetTableColumns(ctx, tb.ID, cols); err != nil {
				return err
			}
		}
		return tx.CreateActionColumn(ctx, a)
	})
	if errors.Is(err, store.ErrConflict) {
		return nil, invalid("name", "the table has an action column named %q already", req.Name)
	}
	if err != nil {
		return nil, err
	}
	if _, err := s.queue(ctx, a, TriggerCreated, OnlyAll); err != nil {
		return nil, err
	}
	return a, nil
}

// validate checks a column request against the table, the catalog and the
// workspace's connections; it returns the table's columns with the missing
// output columns added.
func (s *Service) validate(ctx context.Context, ws *store.Workspace, tb *store.Table, existing []*store.ActionColumn, req *ColumnRequest) ([]store.Column, []catalog.FieldError) {
	var errs []catalog.FieldError
	add := func(field, format string, args ...any) {
		errs = append(errs, catalog.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	req.Name = strings.TrimSpace(req.Name)
	colType := map[string]string{}
	for _, c := range tb.Columns {
		colType[c.Name] = c.Type
	}
	switch {
	case req.Name == "":
		add("name", "an action column needs a name")
	case len(req.Name) > 100:
		add("name", "at most 100 characters")
	case colType[req.Name] != "":
		add("name", "the table has a data column named %q; choose another name", req.Name)
	case slices.ContainsFunc(existing, func(a *store.ActionColumn) bool { return a.Name == req.Name }):
		add("name", "the table has an action column named %q already", req.Name)
	}
	sp := &req.Spec
	var lk *catalog.Lookup
	if len(sp.ConnectionIDs) == 0 || len(sp.ConnectionIDs) > MaxWaterfall {
		add("action.connection_ids", "name from 1 to %d data-provider connections, asked in that order", MaxWaterfall)
	}
	seen := map[string]bool{}
	for i, id := range sp.ConnectionIDs {
		f := fmt.Sprintf("action.connection_ids[%d]", i)
		if seen[id] {
			add(f, "connection %s is listed twice", id)
			continue
		}
		seen[id] = true
		c, err := s.cfg.Store.GetConnection(ctx, ws.ID, id)
		if err != nil {
			add(f, "no connection %q in this workspace (GET /api/v1/connections lists them)", id)
			continue
		}
		p, ok := s.cfg.Conns.Catalog().Get(c.Provider)
		if !ok || len(p.Lookups) == 0 {
			add(f, "connection %s is to %s, which offers no lookups; connect a data provider", id, c.Provider)
			continue
		}
		l := findLookup(p, sp.Lookup)
		if l == nil {
			var names []string
			for _, l := range p.Lookups {
				names = append(names, l.Name)
			}
			add("action.lookup", "%s has no lookup %q; use one of %s", p.Name, sp.Lookup, strings.Join(names, ", "))
			continue
		}
		if lk == nil {
			lk = l
		}
	}
	cols := slices.Clone(tb.Columns)
	if lk == nil {
		return cols, errs
	}
	for _, in := range lk.Inputs {
		col, ok := sp.Inputs[in]
		switch {
		case !ok || col == "":
			add("action.inputs."+in, "the %s lookup needs input %q; map it to a column", lk.Name, in)
		case colType[col] == "":
			add("action.inputs."+in, "no column %q in the table", col)
		}
	}
	for in := range sp.Inputs {
		if !slices.Contains(lk.Inputs, in) {
			add("action.inputs."+in, "the %s lookup has no input %q; its inputs are %s", lk.Name, in, strings.Join(lk.Inputs, ", "))
		}
	}
	if len(sp.Outputs) == 0 {
		add("action.outputs", "map at least one of the lookup's outputs (%s) to a column", strings.Join(lk.Outputs, ", "))
	}
	inputCols := slices.Collect(maps.Values(sp.Inputs))
	for _, out := range slices.Sorted(maps.Keys(sp.Outputs)) {
		col := strings.TrimSpace(sp.Outputs[out])
		f := "action.outputs." + out
		switch {
		case !slices.Contains(lk.Outputs, out):
			add(f, "the %s lookup has no output %q; its outputs are %s", lk.Name, out, strings.Join(lk.Outputs, ", "))
		case col == "" || len(col) > 100:
			add(f, "name the column the output goes to (1 to 100 characters)")
		case col == req.Name:
			add(f, "an output cannot go to the action column itself")
		case slices.Contains(inputCols, col):
			add(f, "column %q is an input of the lookup; write the output to another column", col)
		case colType[col] == "":
			cols = append(cols, store.Column{Name: col, Type: tables.Text})
			colType[col] = tables.Text
		}
	}
	if len(cols) > tables.MaxColumns {
		add("action.outputs", "the table would have more than %d columns", tables.MaxColumns)
	}
	if e := sp.RunIf.Empty; e != "" && colType[e] == "" {
		add("action.run_if.empty", "no column %q in the table", e)
	}
	if sp.RunIf.Filter != "" {
		expr, err := filter.Parse(sp.RunIf.Filter)
		if err != nil {
			add("action.run_if.filter", "%v", err)
		} else {
			for _, f := range filter.Fields(expr) {
				if colType[f] == "" {
					add("action.run_if.filter", "the filter names %q, which is not a column of the table", f)
				}
			}
		}
	}
	return cols, errs
}

func findLookup(p *catalog.Provider, name string) *catalog.Lookup {
	for i := range p.Lookups {
		if p.Lookups[i].Name == name {
			return &p.Lookups[i]
		}
	}
	return nil
}

// Column finds a table's action column by id or name.
func (s *Service) Column(ctx context.Context, ws *store.Workspace, tableID, idOrName string) (*store.ActionColumn, error) {
	if _, err := s.cfg.Store.GetTable(ctx, ws.ID, tableID); err != nil {
		return nil, err
	}
	cols, err := s.cfg.Store.ActionColumns(ctx, tableID)
	if err != nil {
		return nil, err
	}
	for _, a := range cols {
		if a.ID == idOrName || a.Name == idOrName {
			return a, nil
		}
	}
	return nil, fmt.Errorf("action column %q of table %s: %w", idOrName, tableID, store.ErrNotFound)
}

// Run queues a column's cells again: all of them, only the failed ones, or
// only rows with an empty output. A stopped column is resumed (the user
// fixed what stopped it). It returns the run that counts the outcome.
func (s *Service) Run(ctx context.Context, ws *store.Workspace, tableID, idOrName, only string) (*store.EnrichRun, error) {
	switch only {
	case "":
		only = OnlyAll
	case OnlyAll, OnlyFailed, OnlyEmpty:
	default:
		return nil, invalid("only", "unknown value %q; use all, failed or empty", only)
	}
	a, err := s.Column(ctx, ws, tableID, idOrName)
	if err != nil {
		return nil, err
	}
	if a.Status != StatusActive {
		if err := s.cfg.Store.SetActionColumnStatus(ctx, a.ID, StatusActive, "", ""); err != nil {
			return nil, err
		}
		a.Status, a.StatusReason, a.StatusDetail = StatusActive, "", ""
	}
	return s.queue(ctx, a, TriggerManual, only)
}

// queue marks the cells a trigger asks for pending under a new run.
func (s *Service) queue(ctx context.Context, a *store.ActionColumn, trigger, only string) (*store.EnrichRun, error) {
	run := &store.EnrichRun{ColumnID: a.ID, Trigger: trigger, Only: only}
	if err := s.cfg.Store.InTx(ctx, func(tx *store.Tx) error { return tx.CreateEnrichRun(ctx, run) }); err != nil {
		return nil, err
	}
	start := s.cfg.Now().UTC()
	n, err := s.walk(ctx, a, time.Time{}, run.ID, func(rc store.RowCell, hash string) bool {
		switch only {
		case OnlyFailed:
			return rc.Cell != nil && rc.Cell.State == store.CellFailed
		case OnlyEmpty:
			if rc.Cell == nil {
				return true
			}
			for _, col := range a.Spec.Outputs {
				if tables.Render(rc.Row.Values[col]) == "" {
					return true
				}
			}
			return false
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	run.Counts.Queued = n
	if trigger == TriggerCreated {
		if err := s.cfg.Store.SetScannedAt(ctx, a.ID, start); err != nil {
			return nil, err
		}
	}
	wake(s.workWake)
	return run, nil
}

// walk pages through a column's rows changed since the given time and
// makes pending, under runID, the cells pick chooses. It returns how many.
func (s *Service) walk(ctx context.Context, a *store.ActionColumn, since time.Time, runID string, pick func(rc store.RowCell, hash string) bool) (int, error) {
	const page = 500
	after, queued := "", 0
	now := s.cfg.Now().UTC()
	for {
		rcs, err := s.cfg.Store.RowsForColumn(ctx, a.TableID, a.ID, since, after, page)
		if err != nil {
			return queued, err
		}
		if len(rcs) == 0 {
			return queued, nil
		}
		after = rcs[len(rcs)-1].Row.ID
		var put []*store.Cell
		for _, rc := range rcs {
			hash := inputHash(a.Spec, rc.Row.Values)
			if rc.Cell != nil && rc.Cell.State == store.CellPending && rc.Cell.RunID == runID {
				continue
			}
			if !pick(rc, hash) {
				continue
			}
			put = append(put, &store.Cell{RowID: rc.Row.ID, ColumnID: a.ID, TableID: a.TableID, State: store.CellPending,
				InputHash: hash, RunID: runID, DueAt: now})
		}
		if len(put) > 0 {
			err := s.cfg.Store.InTx(ctx, func(tx *store.Tx) error {
				for _, c := range put {
					if err := tx.PutCell(ctx, c); err != nil {
						return err
					}
				}
				return tx.AddRunCounts(ctx, runID, store.RunCounts{Queued: len(put)})
			})
			if err != nil {
				return queued, err
			}
			queued += len(put)
		}
		if len(rcs) < page {
			return queued, nil
		}
	}
}

// scan queues the rows of a column that are new, or whose inputs changed
// since their cell was settled.
func (s *Service) scan(ctx context.Context, a *store.ActionColumn) error {
	start := s.cfg.Now().UTC()
	since := time.Time{}
	if !a.ScannedAt.IsZero() {
		since = a.ScannedAt.Add(-s.cfg.ScanMargin)
	}
	// The run is made first so that every cell it queues counts into it; a
	// scan that finds nothing takes its run back.
	run := &store.EnrichRun{ColumnID: a.ID, Trigger: TriggerRows, Only: OnlyAll}
	if err := s.cfg.Store.InTx(ctx, func(tx *store.Tx) error { return tx.CreateEnrichRun(ctx, run) }); err != nil {
		return err
	}
	runID := run.ID
	n, err := s.walk(ctx, a, since, runID, func(rc store.RowCell, hash string) bool {
		return rc.Cell == nil || (rc.Cell.State != store.CellPending && rc.Cell.InputHash != hash)
	})
	if n == 0 {
		if derr := s.cfg.Store.DeleteEnrichRun(ctx, runID); derr != nil {
			err = errors.Join(err, derr)
		}
	}
	if err != nil {
		return err
	}
	if n > 0 {
		s.cfg.Logger.Debug("enrichment queued rows", "column", a.ID, "rows", n, "run", runID)
		wake(s.workWake)
	}
	return s.cfg.Store.SetScannedAt(ctx, a.ID, start)
}

// inputHash identifies what a row asks: the lookup and its input values.
func inputHash(sp store.ActionSpec, values map[string]any) string {
	in := inputs(sp, values)
	b, _ := json.Marshal([]any{sp.Lookup, in})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12])
}

// inputs reads a row's lookup inputs (text; "" when empty).
func inputs(sp store.ActionSpec, values map[string]any) map[string]string {
	out := make(map[string]string, len(sp.Inputs))
	for in, col := range sp.Inputs {
		out[in] = strings.TrimSpace(tables.Render(values[col]))
	}
	return out
}

// cacheKey names an answer: the connection asked, the lookup and the inputs
// as the provider receives them (so identical questions from any table share it).
func cacheKey(connID, lookup string, in map[string]string) string {
	norm := make(map[string]string, len(in))
	for k, v := range in {
		norm[k] = strings.ToLower(strings.TrimSpace(v))
	}
	b, _ := json.Marshal([]any{connID, lookup, norm})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
