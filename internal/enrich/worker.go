package enrich

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"patchbay/internal/connection"
	"patchbay/internal/connector"
	"patchbay/internal/filter"
	"patchbay/internal/store"
	"patchbay/internal/tables"
)

// Start runs the scanner, the dispatcher and the workers until Stop or ctx
// ends. Tables with action columns are scanned once at start, for rows that
// arrived while the process was down.
func (s *Service) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil {
		return errors.New("enrich: started twice")
	}
	ctx, s.cancel = context.WithCancel(ctx)
	cols, err := s.cfg.Store.AllActionColumns(ctx)
	if err != nil {
		s.cancel()
		s.cancel = nil
		return err
	}
	for _, a := range cols {
		s.dirty[a.TableID] = true
	}
	jobs := make(chan job)
	s.wg.Add(2 + s.cfg.Workers)
	go s.scanLoop(ctx)
	go s.dispatchLoop(ctx, jobs)
	for range s.cfg.Workers {
		go func() {
			defer s.wg.Done()
			for j := range jobs {
				s.process(ctx, j)
			}
		}()
	}
	wake(s.scanWake)
	return nil
}

// Stop ends the loops and waits for lookups in flight. Cells claimed but not
// finished are picked up again when their lease ends.
func (s *Service) Stop() {
	s.mu.Lock()
	cancel := s.cancel
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	s.wg.Wait()
}

func (s *Service) scanLoop(ctx context.Context) {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.Tick)
	defer t.Stop()
	lastPrune := time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.scanWake:
		case <-t.C:
		}
		s.mu.Lock()
		dirty := s.dirty
		s.dirty = map[string]bool{}
		s.mu.Unlock()
		for tableID := range dirty {
			cols, err := s.cfg.Store.ActionColumns(ctx, tableID)
			if err != nil {
				s.logErr(ctx, "find action columns", err, "table", tableID)
				continue
			}
			for _, a := range cols {
				if err := s.scan(ctx, a); err != nil {
					s.logErr(ctx, "scan rows", err, "column", a.ID)
					s.Notify(tableID) // try again at the next tick
				}
			}
		}
		if time.Since(lastPrune) > time.Hour {
			lastPrune = time.Now()
			if _, err := s.cfg.Store.PruneCache(ctx, s.cfg.Now().Add(-max(s.cfg.CacheTTL, 30*24*time.Hour))); err != nil {
				s.logErr(ctx, "prune cache", err)
			}
		}
	}
}

func (s *Service) logErr(ctx context.Context, msg string, err error, args ...any) {
	if ctx.Err() == nil {
		s.cfg.Logger.Warn(msg, append(args, "err", err)...)
	}
}

// job is one claimed cell with its column.
type job struct {
	cell *store.Cell
	col  *store.ActionColumn
}

// dispatchLoop claims due cells of active columns and hands them to the
// workers; it also resumes columns stopped by a connection that is healthy again.
func (s *Service) dispatchLoop(ctx context.Context, jobs chan<- job) {
	defer s.wg.Done()
	defer close(jobs)
	t := time.NewTicker(s.cfg.Tick)
	defer t.Stop()
	for {
		busy, err := s.dispatch(ctx, jobs)
		if err != nil {
			s.logErr(ctx, "dispatch cells", err)
		}
		if busy {
			continue // more may be due right away
		}
		select {
		case <-ctx.Done():
			return
		case <-s.workWake:
		case <-t.C:
		}
	}
}

// dispatch hands out one batch of due cells; it reports whether the batch was full.
func (s *Service) dispatch(ctx context.Context, jobs chan<- job) (bool, error) {
	cols, err := s.cfg.Store.AllActionColumns(ctx)
	if err != nil {
		return false, err
	}
	byID := map[string]*store.ActionColumn{}
	for _, a := range cols {
		byID[a.ID] = a
		if a.Status == StatusStopped {
			s.maybeResume(ctx, a)
		}
	}
	batch := s.cfg.Workers * 2
	now := s.cfg.Now()
	cells, err := s.cfg.Store.DueCells(ctx, now, batch)
	if err != nil {
		return false, err
	}
	for _, c := range cells {
		a := byID[c.ColumnID]
		if a == nil || a.Status != StatusActive {
			continue
		}
		ok, err := s.cfg.Store.ClaimCell(ctx, c, now.Add(s.cfg.Lease))
		if err != nil {
			return false, err
		}
		if !ok {
			continue // another process took it
		}
		select {
		case jobs <- job{cell: c, col: a}:
		case <-ctx.Done():
			return false, nil
		}
	}
	return len(cells) == batch, nil
}

// maybeResume restarts a column stopped by a connection problem once every
// connection it asks is connected again (a reconnect with a new key).
func (s *Service) maybeResume(ctx context.Context, a *store.ActionColumn) {
	if a.StatusReason == ReasonCredits {
		return // only the user knows when credits were bought: POST .../run resumes
	}
	for _, id := range a.Spec.ConnectionIDs {
		c, err := s.cfg.Store.ConnectionByID(ctx, id)
		if err != nil || c.Status != connection.StatusConnected {
			return
		}
	}
	if err := s.cfg.Store.SetActionColumnStatus(ctx, a.ID, StatusActive, "", ""); err != nil {
		s.logErr(ctx, "resume action column", err, "column", a.ID)
		return
	}
	a.Status, a.StatusReason, a.StatusDetail = StatusActive, "", ""
	s.cfg.Logger.Info("action column resumed", "column", a.ID)
}

// outcome is what one cell's work came to.
type outcome struct {
	cell    store.Cell
	data    map[string]any // found: the answer
	counts  store.RunCounts
	stop    *stopInfo // the column must stop
	release bool      // give the cell back untouched (shutdown)
}

type stopInfo struct{ reason, detail string }

// process does one cell's lookups and records the outcome.
func (s *Service) process(ctx context.Context, j job) {
	out := s.lookupCell(ctx, j)
	if out.release {
		return
	}
	wctx := context.WithoutCancel(ctx) // what was paid for must be recorded
	if out.stop != nil {
		if err := s.cfg.Store.SetActionColumnStatus(wctx, j.col.ID, StatusStopped, out.stop.reason, out.stop.detail); err != nil {
			s.logErr(wctx, "stop action column", err, "column", j.col.ID)
		}
		s.cfg.Logger.Warn("action column stopped", "column", j.col.ID, "reason", out.stop.reason, "detail", out.stop.detail)
	}
	changed := false
	err := s.cfg.Store.InTx(wctx, func(tx *store.Tx) error {
		changed = false
		if out.data != nil {
			row, err := tx.GetRow(wctx, j.cell.TableID, j.cell.RowID)
			if errors.Is(err, store.ErrNotFound) {
				return nil // the row went away meanwhile; its cell went with it
			}
			if err != nil {
				return err
			}
			tb, err := s.cfg.Store.TableByID(wctx, j.cell.TableID)
			if err != nil {
				return err
			}
			if writeOutputs(tb.Columns, j.col.Spec.Outputs, out.data, row.Values) {
				if err := tx.UpdateRow(wctx, row); err != nil {
					return err
				}
				changed = true
			}
		}
		if err := tx.PutCell(wctx, &out.cell); err != nil {
			return err
		}
		return tx.AddRunCounts(wctx, out.cell.RunID, out.counts)
	})
	if err != nil {
		s.logErr(wctx, "record cell", err, "column", j.col.ID, "row", j.cell.RowID)
		return
	}
	if changed && s.cfg.RowsChanged != nil {
		s.cfg.RowsChanged(j.cell.TableID)
	}
}

// writeOutputs copies the outputs of an answer into a row's values,
// converted to the columns' types; it reports whether anything changed.
// An output the answer lacks leaves its column alone.
func writeOutputs(cols []store.Column, outputs map[string]string, data, values map[string]any) bool {
	types := map[string]string{}
	for _, c := range cols {
		types[c.Name] = c.Type
	}
	before := store.RowHash(values)
	for out, col := range outputs {
		v, ok := data[out]
		if !ok || v == nil {
			continue
		}
		typ := types[col]
		var cv any
		if typ == tables.Text || typ == "" {
			cv = tables.Render(v)
		} else if c, err := tables.Convert(typ, v); err == nil {
			cv = c
		} else if c, err := tables.Convert(typ, tables.Render(v)); err == nil {
			cv = c
		} else {
			continue // the provider's value does not fit the column's type
		}
		if cv == nil || cv == "" {
			continue
		}
		values[col] = cv
	}
	return store.RowHash(values) != before
}

// lookupCell walks the waterfall for one cell.
func (s *Service) lookupCell(ctx context.Context, j job) outcome {
	c := *j.cell
	c.Attempts++
	out := outcome{cell: c}
	done := func(state, reason, msg string) outcome {
		out.cell.State, out.cell.Reason, out.cell.Message, out.cell.DueAt = state, reason, msg, time.Time{}
		return out
	}
	wait := func(reason, msg string, until time.Time) outcome {
		out.cell.State, out.cell.Reason, out.cell.Message, out.cell.DueAt = store.CellPending, reason, msg, until
		out.cell.Attempts = j.cell.Attempts // waiting is not an attempt
		return out
	}
	rows, err := s.cfg.Store.RowsByID(ctx, c.TableID, []string{c.RowID})
	if err != nil {
		if ctx.Err() != nil {
			return outcome{release: true}
		}
		return wait("", "", s.cfg.Now().Add(s.cfg.RetryBase))
	}
	row := rows[c.RowID]
	if row == nil || !row.DeletedAt.IsZero() {
		out.counts.Skipped++
		return done(store.CellSkipped, "row_deleted", "the row was deleted")
	}
	sp := j.col.Spec
	out.cell.InputHash = inputHash(sp, row.Values)
	if ok, why := runIf(sp.RunIf, row.Values); !ok {
		out.counts.Skipped++
		return done(store.CellSkipped, ReasonCondition, why)
	}
	in := inputs(sp, row.Values)
	for _, k := range slices.Sorted(maps.Keys(in)) {
		if in[k] == "" {
			out.counts.Skipped++
			return done(store.CellSkipped, ReasonEmptyInput, fmt.Sprintf("column %q is empty; the lookup needs it as %s", sp.Inputs[k], k))
		}
	}
	settings, err := s.cfg.Store.GetEnrichSettings(ctx, c.TableID)
	if err != nil {
		return wait("", "", s.cfg.Now().Add(s.cfg.RetryBase))
	}
	ttl := s.cfg.CacheTTL
	if settings.CacheTTL > 0 {
		ttl = settings.CacheTTL
	}
	var unavailable, lastErr error
	for _, connID := range sp.ConnectionIDs {
		key := cacheKey(connID, sp.Lookup, in)
		if ans, ok, err := s.cfg.Store.CacheGet(ctx, key); err == nil && ok && s.cfg.Now().Sub(ans.FetchedAt) < ttl {
			out.counts.CacheHits++
			if ans.Found {
				out.data = ans.Data
				out.cell.Provider, out.cell.Via = connID, "cache"
				out.counts.Found++
				return done(store.CellDone, "", "")
			}
			continue
		}
		if until, open := s.breakers.open(connID, s.cfg.Now()); open {
			unavailable = &connector.Error{Class: connector.ClassUnavailable, Message: "the provider is not answering; retrying at " + until.Format(time.RFC3339)}
			continue
		}
		asked := s.cfg.Now()
		v, err, shared := s.flight.Do(key, func() (any, error) { return s.ask(ctx, connID, c.TableID, sp.Lookup, in, key) })
		if shared && err == nil {
			out.counts.CacheHits++ // a concurrent identical question paid for it
		} else if err == nil || !errors.Is(err, errBudget) {
			out.counts.Lookups++
		}
		if err != nil {
			if ctx.Err() != nil {
				return outcome{release: true}
			}
			if errors.Is(err, errBudget) {
				return wait(ReasonBudget, "the table's daily lookup budget is spent; lookups resume at the next UTC day", nextDay(s.cfg.Now()))
			}
			switch connector.ClassOf(err) {
			case connector.ClassRateLimited:
				var ce *connector.Error
				errors.As(err, &ce)
				return wait(ReasonRateLimit, "the provider asked to slow down", s.cfg.Now().Add(max(ce.RetryAfter, time.Second)))
			case connector.ClassUnauthorized, connector.ClassRevoked, connector.ClassSuspended:
				status, reason, _, rerr := s.cfg.Conns.LookupFailed(context.WithoutCancel(ctx), connID, "action column "+j.col.Name, err, asked)
				if rerr != nil {
					s.logErr(ctx, "report lookup failure", rerr, "connection", connID)
				}
				if status == connection.StatusConnected {
					return wait("", "", s.cfg.Now()) // refused with credentials a reconnect has replaced: ask again
				}
				if reason == "" {
					reason = string(connector.ClassOf(err))
				}
				out.stop = &stopInfo{reason: reason, detail: fmt.Sprintf("connection %s: %v; reconnect it and the column resumes", connID, err)}
				return wait(ReasonStopped, "the column stopped: "+reason, s.cfg.Now())
			case connector.ClassForbidden:
				out.stop = &stopInfo{reason: ReasonCredits, detail: fmt.Sprintf("connection %s: %v; add credits at the provider, then run the column again", connID, err)}
				return wait(ReasonStopped, "the column stopped: "+ReasonCredits, s.cfg.Now())
			case connector.ClassUnavailable:
				if _, _, _, rerr := s.cfg.Conns.LookupFailed(context.WithoutCancel(ctx), connID, "action column "+j.col.Name, err, asked); rerr != nil {
					s.logErr(ctx, "report lookup failure", rerr, "connection", connID)
				}
				s.breakers.fail(connID, s.cfg.Now())
				unavailable = err
			default:
				lastErr = err
			}
			continue
		}
		s.breakers.ok(connID)
		ans := v.(*store.CachedAnswer)
		if ans.Found {
			out.data = ans.Data
			out.cell.Provider, out.cell.Via = connID, "lookup"
			out.counts.Found++
			return done(store.CellDone, "", "")
		}
	}
	switch {
	case unavailable != nil:
		out.counts.Failed++
		out.cell.State, out.cell.Reason, out.cell.Message = store.CellFailed, connection.ReasonServiceUnavailable, unavailable.Error()
		out.cell.DueAt = s.cfg.Now().Add(s.retryAfter(out.cell.Attempts))
		return out
	case lastErr != nil:
		out.counts.Failed++
		return done(store.CellFailed, string(connector.ClassOf(lastErr)), lastErr.Error())
	}
	out.counts.NotFound++
	return done(store.CellNotFound, "", "")
}

// errBudget says the table's daily budget is spent.
var errBudget = errors.New("daily lookup budget spent")

// ask spends one lookup of the table's budget, asks the provider and
// caches the answer.
func (s *Service) ask(ctx context.Context, connID, tableID, lookup string, in map[string]string, key string) (any, error) {
	ok, err := s.cfg.Store.SpendLookup(ctx, tableID, s.cfg.Now().UTC().Format(time.DateOnly))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errBudget
	}
	cs, err := s.session(ctx, connID)
	if err != nil {
		return nil, err
	}
	sem := s.semaphore(connID, cs.limit)
	select {
	case sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	data, found, err := cs.looker.Lookup(ctx, cs.sess, lookup, in)
	<-sem
	if err != nil {
		return nil, err
	}
	ans := &store.CachedAnswer{Found: found, Data: data, FetchedAt: s.cfg.Now().UTC()}
	if err := s.cfg.Store.CachePut(context.WithoutCancel(ctx), key, ans); err != nil {
		s.logErr(ctx, "cache answer", err)
	}
	return ans, nil
}

// session opens a live session of a data-provider connection for one
// lookup. A session is not shared between concurrent lookups: the
// connection layer's session keeps the current token in an unguarded
// variable. The in-flight limit is the provider's rate per second: enough
// to reach its rate with answers taking up to a second, while the request
// budget of the transport paces the requests themselves.
func (s *Service) session(ctx context.Context, connID string) (lookupSession, error) {
	c, err := s.cfg.Store.ConnectionByID(ctx, connID)
	if err != nil {
		return lookupSession{}, err
	}
	sess, conn, err := s.cfg.Conns.Session(ctx, c)
	if err != nil {
		if errors.Is(err, connection.ErrNoCredentials) {
			return lookupSession{}, &connector.Error{Class: connector.ClassRevoked, Message: err.Error(), Err: err}
		}
		return lookupSession{}, err
	}
	lk, ok := conn.(Looker)
	if !ok {
		return lookupSession{}, &connector.Error{Class: connector.ClassInvalid, Message: c.Provider + " answers no lookups"}
	}
	ls := lookupSession{sess: sess, looker: lk, limit: s.cfg.Workers}
	if p, ok := s.cfg.Conns.Catalog().Get(c.Provider); ok && p.RateLimit.Requests > 0 && p.RateLimit.PeriodDuration() > 0 {
		perSecond := float64(p.RateLimit.Requests) / p.RateLimit.PeriodDuration().Seconds()
		ls.limit = min(max(int(math.Ceil(perSecond)), 1), s.cfg.Workers)
	}
	return ls, nil
}

func (s *Service) semaphore(connID string, limit int) chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	sem, ok := s.sems[connID]
	if !ok || cap(sem) != limit {
		sem = make(chan struct{}, limit)
		s.sems[connID] = sem
	}
	return sem
}

// retryAfter is the backoff of a cell failed by an outage: exponential from
// RetryBase with jitter, capped at RetryMax.
func (s *Service) retryAfter(attempts int) time.Duration {
	d := min(s.cfg.RetryBase<<min(max(attempts-1, 0), 16), s.cfg.RetryMax)
	return d/2 + rand.N(d/2+1)
}

func nextDay(now time.Time) time.Time {
	y, m, d := now.UTC().Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC)
}

// runIf evaluates a column's run condition on a row.
func runIf(r store.RunIf, values map[string]any) (bool, string) {
	if r.Empty != "" && tables.Render(values[r.Empty]) != "" {
		return false, fmt.Sprintf("column %q is not empty", r.Empty)
	}
	if r.Filter != "" {
		expr, err := filter.Parse(r.Filter)
		if err != nil {
			return false, "the run condition does not parse: " + err.Error()
		}
		if !filter.Match(expr, values) {
			return false, "the row does not match " + r.Filter
		}
	}
	return true, ""
}

// breakers remember providers that stopped answering, so that an outage
// costs one request per backoff period instead of one per cell.
type breakers struct {
	base, max time.Duration
	mu        sync.Mutex
	m         map[string]breaker
}

type breaker struct {
	failures int
	until    time.Time
}

func newBreakers(base, max time.Duration) *breakers {
	return &breakers{base: base, max: max, m: map[string]breaker{}}
}

func (b *breakers) open(id string, now time.Time) (time.Time, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	br := b.m[id]
	return br.until, now.Before(br.until)
}

func (b *breakers) fail(id string, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	br := b.m[id]
	br.failures++
	wait := min(b.base<<min(br.failures-1, 16), b.max) / 2 // half the cells' backoff: a probe goes out before they return
	br.until = now.Add(wait)
	b.m[id] = br
}

func (b *breakers) ok(id string) {
	b.mu.Lock()
	delete(b.m, id)
	b.mu.Unlock()
}
