package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// ActionSpec says what an action column asks and where the answers go.
type ActionSpec struct {
	// ConnectionIDs are the data-provider connections asked in order (a
	// waterfall): a row stops at the first that finds an answer.
	ConnectionIDs []string `json:"connection_ids"`
	// Lookup is the catalog lookup, e.g. company_by_domain.
	Lookup string `json:"lookup"`
	// Inputs maps each provider input to the table column it is read from.
	Inputs map[string]string `json:"inputs"`
	// Outputs maps provider outputs to the table columns they are written to.
	Outputs map[string]string `json:"outputs"`
	// RunIf limits the rows looked up; empty runs every row.
	RunIf RunIf `json:"run_if,omitzero"`
}

// RunIf is an action column's run condition: every part given must hold.
type RunIf struct {
	Empty  string `json:"empty,omitempty"`  // only rows where this column is empty
	Filter string `json:"filter,omitempty"` // only rows matching this filter (the filter language)
}

// ActionColumn is a column of a table that calls data providers per row.
type ActionColumn struct {
	ID           string
	WorkspaceID  string
	TableID      string
	Name         string
	Spec         ActionSpec
	Status       string // active, stopped
	StatusReason string // why it stopped: invalid_api_key, insufficient_credits...
	StatusDetail string
	ScannedAt    time.Time // rows changed before this (less a margin) were looked at
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

const actionColumns = `id, workspace_id, table_id, name, spec, status, status_reason, status_detail, scanned_at, created_at, updated_at`

func scanActionColumn(sc interface{ Scan(...any) error }) (*ActionColumn, error) {
	var a ActionColumn
	var spec string
	var scanned sql.NullTime
	if err := sc.Scan(&a.ID, &a.WorkspaceID, &a.TableID, &a.Name, &spec, &a.Status, &a.StatusReason, &a.StatusDetail, &scanned,
		&a.CreatedAt, &a.UpdatedAt); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(spec), &a.Spec); err != nil {
		return nil, fmt.Errorf("action column %s spec: %w", a.ID, err)
	}
	a.ScannedAt = timeOf(scanned)
	return &a, nil
}

// CreateActionColumn inserts an action column; a name taken in the table is ErrConflict.
func (t *Tx) CreateActionColumn(ctx context.Context, a *ActionColumn) error {
	if a.ID == "" {
		a.ID = NewID("acol")
	}
	now := time.Now().UTC()
	a.CreatedAt, a.UpdatedAt = now, now
	var n int
	if err := t.s.queryRow(ctx, t.tx, `SELECT COUNT(*) FROM action_columns WHERE table_id=? AND name=?`, a.TableID, a.Name).Scan(&n); err != nil {
		return fmt.Errorf("insert action column: %w", err)
	}
	if n > 0 {
		return fmt.Errorf("action column %q: %w", a.Name, ErrConflict)
	}
	_, err := t.s.exec(ctx, t.tx, `INSERT INTO action_columns (`+actionColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?,?)`,
		a.ID, a.WorkspaceID, a.TableID, a.Name, jsonText(a.Spec), a.Status, a.StatusReason, a.StatusDetail, nullTime(a.ScannedAt), now, now)
	if err != nil {
		return fmt.Errorf("insert action column: %w", err)
	}
	return nil
}

// UpdateActionColumn writes an action column's spec, status and scan mark.
func (t *Tx) UpdateActionColumn(ctx context.Context, a *ActionColumn) error {
	return t.s.updateActionColumn(ctx, t.tx, a)
}

// UpdateActionColumn is the same outside a transaction.
func (s *Store) UpdateActionColumn(ctx context.Context, a *ActionColumn) error {
	return s.updateActionColumn(ctx, s.write, a)
}

func (s *Store) updateActionColumn(ctx context.Context, q querier, a *ActionColumn) error {
	a.UpdatedAt = time.Now().UTC()
	res, err := s.exec(ctx, q, `UPDATE action_columns SET spec=?, status=?, status_reason=?, status_detail=?, scanned_at=?, updated_at=? WHERE id=?`,
		jsonText(a.Spec), a.Status, a.StatusReason, a.StatusDetail, nullTime(a.ScannedAt), a.UpdatedAt, a.ID)
	if err != nil {
		return fmt.Errorf("update action column %s: %w", a.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("action column %s: %w", a.ID, ErrNotFound)
	}
	return nil
}

// SetActionColumnStatus changes only the status (the worker stops and resumes columns).
func (s *Store) SetActionColumnStatus(ctx context.Context, id, status, reason, detail string) error {
	_, err := s.exec(ctx, s.write, `UPDATE action_columns SET status=?, status_reason=?, status_detail=?, updated_at=? WHERE id=?`,
		status, reason, detail, time.Now().UTC(), id)
	if err != nil {
		return fmt.Errorf("set status of action column %s: %w", id, err)
	}
	return nil
}

// SetScannedAt records how far a column's look at changed rows got.
func (s *Store) SetScannedAt(ctx context.Context, id string, at time.Time) error {
	if _, err := s.exec(ctx, s.write, `UPDATE action_columns SET scanned_at=? WHERE id=?`, nullTime(at), id); err != nil {
		return fmt.Errorf("mark scan of action column %s: %w", id, err)
	}
	return nil
}

// DeleteActionColumn removes an action column with its cells and runs.
func (t *Tx) DeleteActionColumn(ctx context.Context, id string) error {
	for _, q := range []string{`DELETE FROM enrich_cells WHERE column_id=?`, `DELETE FROM enrich_runs WHERE column_id=?`, `DELETE FROM action_columns WHERE id=?`} {
		if _, err := t.s.exec(ctx, t.tx, q, id); err != nil {
			return fmt.Errorf("delete action column %s: %w", id, err)
		}
	}
	return nil
}

func (s *Store) listActionColumns(ctx context.Context, where string, args ...any) ([]*ActionColumn, error) {
	rows, err := s.query(ctx, s.read, `SELECT `+actionColumns+` FROM action_columns WHERE `+where+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list action columns: %w", err)
	}
	defer rows.Close()
	var out []*ActionColumn
	for rows.Next() {
		a, err := scanActionColumn(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// ActionColumns returns a table's action columns.
func (s *Store) ActionColumns(ctx context.Context, tableID string) ([]*ActionColumn, error) {
	return s.listActionColumns(ctx, `table_id=?`, tableID)
}

// AllActionColumns returns every action column (the worker's view).
func (s *Store) AllActionColumns(ctx context.Context) ([]*ActionColumn, error) {
	return s.listActionColumns(ctx, `1=1`)
}

// ActionColumnByID returns an action column whatever its workspace.
func (s *Store) ActionColumnByID(ctx context.Context, id string) (*ActionColumn, error) {
	a, err := scanActionColumn(s.queryRow(ctx, s.read, `SELECT `+actionColumns+` FROM action_columns WHERE id=?`, id))
	if err != nil {
		return nil, notFound(err, "action column "+id)
	}
	return a, nil
}

// SetTableColumns replaces a table's data columns.
func (t *Tx) SetTableColumns(ctx context.Context, tableID string, cols []Column) error {
	res, err := t.s.exec(ctx, t.tx, `UPDATE data_tables SET columns=?, updated_at=? WHERE id=?`, jsonText(emptyIfNil(cols)), time.Now().UTC(), tableID)
	if err != nil {
		return fmt.Errorf("set columns of %s: %w", tableID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("table %s: %w", tableID, ErrNotFound)
	}
	return nil
}

// Cell states.
const (
	CellPending  = "pending"
	CellDone     = "done"
	CellNotFound = "not_found"
	CellFailed   = "failed"
	CellSkipped  = "skipped" // the run condition does not hold, or an input is empty
)

// Cell is the enrichment state of one row in one action column.
type Cell struct {
	RowID     string
	ColumnID  string
	TableID   string
	State     string
	Reason    string // failed: the classified reason; pending: why it waits; skipped: why
	Message   string
	Provider  string // the connection that answered
	Via       string // lookup or cache
	InputHash string // the inputs the state is about
	Attempts  int
	RunID     string
	DueAt     time.Time // set while the cell waits for work or a retry
	UpdatedAt time.Time
	Column    string // the action column's name (read only)
}

const cellColumns = `row_id, column_id, table_id, state, reason, message, provider, via, input_hash, attempts, run_id, due_at, updated_at`

func scanCell(sc interface{ Scan(...any) error }, extra ...any) (*Cell, error) {
	var c Cell
	var due sql.NullTime
	dest := append([]any{&c.RowID, &c.ColumnID, &c.TableID, &c.State, &c.Reason, &c.Message, &c.Provider, &c.Via, &c.InputHash,
		&c.Attempts, &c.RunID, &due, &c.UpdatedAt}, extra...)
	if err := sc.Scan(dest...); err != nil {
		return nil, err
	}
	c.DueAt = timeOf(due)
	return &c, nil
}

// PutCell inserts or replaces a cell.
func (t *Tx) PutCell(ctx context.Context, c *Cell) error {
	c.UpdatedAt = time.Now().UTC()
	_, err := t.s.exec(ctx, t.tx, `INSERT INTO enrich_cells (`+cellColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT (row_id, column_id) DO UPDATE SET state=excluded.state, reason=excluded.reason, message=excluded.message,
		provider=excluded.provider, via=excluded.via, input_hash=excluded.input_hash, attempts=excluded.attempts, run_id=excluded.run_id,
		due_at=excluded.due_at, updated_at=excluded.updated_at`,
		c.RowID, c.ColumnID, c.TableID, c.State, c.Reason, c.Message, c.Provider, c.Via, c.InputHash, c.Attempts, c.RunID, nullTime(c.DueAt), c.UpdatedAt)
	if err != nil {
		return fmt.Errorf("put cell %s/%s: %w", c.RowID, c.ColumnID, err)
	}
	return nil
}

// DueCells returns cells of active columns whose work is due at now, oldest first.
func (s *Store) DueCells(ctx context.Context, now time.Time, limit int) ([]*Cell, error) {
	rows, err := s.query(ctx, s.read, `SELECT c.row_id, c.column_id, c.table_id, c.state, c.reason, c.message, c.provider, c.via, c.input_hash,
		c.attempts, c.run_id, c.due_at, c.updated_at FROM enrich_cells c JOIN action_columns a ON a.id=c.column_id
		WHERE c.due_at IS NOT NULL AND c.due_at<=? AND a.status='active' ORDER BY c.due_at LIMIT ?`, now.UTC(), limit)
	if err != nil {
		return nil, fmt.Errorf("due cells: %w", err)
	}
	defer rows.Close()
	var out []*Cell
	for rows.Next() {
		c, err := scanCell(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// ClaimCell moves a due cell's due time to until, if nobody else did since
// it was read (compare and swap on due_at): the claimer owns it until then.
func (s *Store) ClaimCell(ctx context.Context, c *Cell, until time.Time) (bool, error) {
	res, err := s.exec(ctx, s.write, `UPDATE enrich_cells SET due_at=? WHERE row_id=? AND column_id=? AND due_at=?`,
		until.UTC(), c.RowID, c.ColumnID, c.DueAt.UTC())
	if err != nil {
		return false, fmt.Errorf("claim cell: %w", err)
	}
	n, _ := res.RowsAffected()
	if n == 1 {
		c.DueAt = until.UTC()
	}
	return n == 1, nil
}

// CellsOfRows returns the cells of the given rows, keyed by row id.
func (s *Store) CellsOfRows(ctx context.Context, rowIDs []string) (map[string][]*Cell, error) {
	out := make(map[string][]*Cell, len(rowIDs))
	if len(rowIDs) == 0 {
		return out, nil
	}
	args := make([]any, len(rowIDs))
	for i, id := range rowIDs {
		args[i] = id
	}
	rows, err := s.query(ctx, s.read, `SELECT c.row_id, c.column_id, c.table_id, c.state, c.reason, c.message, c.provider, c.via, c.input_hash,
		c.attempts, c.run_id, c.due_at, c.updated_at, a.name FROM enrich_cells c JOIN action_columns a ON a.id=c.column_id
		WHERE c.row_id IN (`+placeholders(len(rowIDs))+`) ORDER BY a.name`, args...)
	if err != nil {
		return nil, fmt.Errorf("cells of rows: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		c, err := scanCell(rows, &name)
		if err != nil {
			return nil, err
		}
		c.Column = name
		out[c.RowID] = append(out[c.RowID], c)
	}
	return out, rows.Err()
}

// CellCounts counts a column's cells by state.
func (s *Store) CellCounts(ctx context.Context, columnID string) (map[string]int, error) {
	rows, err := s.query(ctx, s.read, `SELECT state, COUNT(*) FROM enrich_cells WHERE column_id=? GROUP BY state`, columnID)
	if err != nil {
		return nil, fmt.Errorf("count cells: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, err
		}
		out[st] = n
	}
	return out, rows.Err()
}

// RowCell is a row with its cell in one action column (nil when it has none).
type RowCell struct {
	Row  *Row
	Cell *Cell
}

// RowsForColumn pages through a table's live rows changed at or after since,
// by id after the given one, each with its cell in the column.
func (s *Store) RowsForColumn(ctx context.Context, tableID, columnID string, since time.Time, after string, limit int) ([]RowCell, error) {
	rows, err := s.query(ctx, s.read, `SELECT r.id, r.table_id, r.vals, r.hash, r.created_at, r.updated_at, r.deleted_at,
		c.row_id, c.column_id, c.table_id, c.state, c.reason, c.message, c.provider, c.via, c.input_hash, c.attempts, c.run_id, c.due_at, c.updated_at
		FROM table_rows r LEFT JOIN enrich_cells c ON c.row_id=r.id AND c.column_id=?
		WHERE r.table_id=? AND r.deleted_at IS NULL AND r.updated_at>=? AND r.id>? ORDER BY r.id LIMIT ?`,
		columnID, tableID, since.UTC(), after, limit)
	if err != nil {
		return nil, fmt.Errorf("rows for column: %w", err)
	}
	defer rows.Close()
	var out []RowCell
	for rows.Next() {
		var r Row
		var vals string
		var del, due sql.NullTime
		var cRow, cCol, cTable, state, reason, msg, prov, via, hash, runID sql.NullString
		var attempts sql.NullInt64
		var cUpd sql.NullTime
		if err := rows.Scan(&r.ID, &r.TableID, &vals, &r.Hash, &r.CreatedAt, &r.UpdatedAt, &del,
			&cRow, &cCol, &cTable, &state, &reason, &msg, &prov, &via, &hash, &attempts, &runID, &due, &cUpd); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(vals), &r.Values); err != nil {
			return nil, fmt.Errorf("row %s values: %w", r.ID, err)
		}
		if r.Values == nil {
			r.Values = map[string]any{}
		}
		r.DeletedAt = timeOf(del)
		rc := RowCell{Row: &r}
		if cRow.Valid {
			rc.Cell = &Cell{RowID: cRow.String, ColumnID: cCol.String, TableID: cTable.String, State: state.String, Reason: reason.String,
				Message: msg.String, Provider: prov.String, Via: via.String, InputHash: hash.String, Attempts: int(attempts.Int64),
				RunID: runID.String, DueAt: timeOf(due), UpdatedAt: timeOf(cUpd)}
		}
		out = append(out, rc)
	}
	return out, rows.Err()
}

// RowsByID returns the given live rows of a table, keyed by id.
func (s *Store) RowsByID(ctx context.Context, tableID string, ids []string) (map[string]*Row, error) {
	out := make(map[string]*Row, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	args := []any{tableID}
	for _, id := range ids {
		args = append(args, id)
	}
	rows, err := s.query(ctx, s.read, `SELECT `+rowColumns+` FROM table_rows WHERE table_id=? AND id IN (`+placeholders(len(ids))+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("rows by id: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanRow(rows)
		if err != nil {
			return nil, err
		}
		out[r.ID] = r
	}
	return out, rows.Err()
}

// CachedAnswer is a provider's answer kept for identical questions.
type CachedAnswer struct {
	Found     bool
	Data      map[string]any
	FetchedAt time.Time
}

// CacheGet returns the answer cached under key, if any.
func (s *Store) CacheGet(ctx context.Context, key string) (*CachedAnswer, bool, error) {
	var a CachedAnswer
	var data string
	err := s.queryRow(ctx, s.read, `SELECT found, data, fetched_at FROM enrich_cache WHERE key=?`, key).Scan(&a.Found, &data, &a.FetchedAt)
	if err == sql.ErrNoRows {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read cache: %w", err)
	}
	if err := json.Unmarshal([]byte(data), &a.Data); err != nil {
		return nil, false, fmt.Errorf("cache entry data: %w", err)
	}
	return &a, true, nil
}

// CachePut stores an answer under key.
func (s *Store) CachePut(ctx context.Context, key string, a *CachedAnswer) error {
	data := a.Data
	if data == nil {
		data = map[string]any{}
	}
	_, err := s.exec(ctx, s.write, `INSERT INTO enrich_cache (key, found, data, fetched_at) VALUES (?,?,?,?)
		ON CONFLICT (key) DO UPDATE SET found=excluded.found, data=excluded.data, fetched_at=excluded.fetched_at`,
		key, a.Found, jsonText(data), a.FetchedAt.UTC())
	if err != nil {
		return fmt.Errorf("write cache: %w", err)
	}
	return nil
}

// PruneCache deletes answers fetched before cutoff; it returns how many went.
func (s *Store) PruneCache(ctx context.Context, cutoff time.Time) (int, error) {
	res, err := s.exec(ctx, s.write, `DELETE FROM enrich_cache WHERE fetched_at<?`, cutoff.UTC())
	if err != nil {
		return 0, fmt.Errorf("prune cache: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// EnrichSettings are a table's enrichment settings and the day's spending.
type EnrichSettings struct {
	TableID     string
	DailyBudget int           // lookups per UTC day; 0 is unlimited
	CacheTTL    time.Duration // 0: the server's default
	Day         string        // the UTC day Used counts (2026-01-31)
	Used        int
}

// GetEnrichSettings returns a table's settings (zero values when never set).
func (s *Store) GetEnrichSettings(ctx context.Context, tableID string) (*EnrichSettings, error) {
	es := EnrichSettings{TableID: tableID}
	var ttl int64
	err := s.queryRow(ctx, s.read, `SELECT daily_budget, cache_ttl_s, day, used FROM enrich_settings WHERE table_id=?`, tableID).
		Scan(&es.DailyBudget, &ttl, &es.Day, &es.Used)
	if err != nil && err != sql.ErrNoRows {
		return nil, fmt.Errorf("enrichment settings of %s: %w", tableID, err)
	}
	es.CacheTTL = time.Duration(ttl) * time.Second
	return &es, nil
}

func (s *Store) ensureSettings(ctx context.Context, q querier, tableID string) error {
	_, err := s.exec(ctx, q, `INSERT INTO enrich_settings (table_id) VALUES (?) ON CONFLICT (table_id) DO NOTHING`, tableID)
	if err != nil {
		return fmt.Errorf("enrichment settings of %s: %w", tableID, err)
	}
	return nil
}

// SetEnrichSettings writes a table's budget and cache time to live.
func (s *Store) SetEnrichSettings(ctx context.Context, es *EnrichSettings) error {
	if err := s.ensureSettings(ctx, s.write, es.TableID); err != nil {
		return err
	}
	_, err := s.exec(ctx, s.write, `UPDATE enrich_settings SET daily_budget=?, cache_ttl_s=? WHERE table_id=?`,
		es.DailyBudget, int64(es.CacheTTL/time.Second), es.TableID)
	if err != nil {
		return fmt.Errorf("set enrichment settings of %s: %w", es.TableID, err)
	}
	return nil
}

// SpendLookup takes one lookup from a table's budget of day. It reports
// false, spending nothing, when the day's budget is used up. Concurrent
// callers never spend beyond the budget: the check and the increment are
// one statement.
func (s *Store) SpendLookup(ctx context.Context, tableID, day string) (bool, error) {
	if err := s.ensureSettings(ctx, s.write, tableID); err != nil {
		return false, err
	}
	res, err := s.exec(ctx, s.write, `UPDATE enrich_settings SET used=CASE WHEN day=? THEN used+1 ELSE 1 END, day=?
		WHERE table_id=? AND (daily_budget=0 OR day<>? OR used<daily_budget)`, day, day, tableID, day)
	if err != nil {
		return false, fmt.Errorf("spend lookup of %s: %w", tableID, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// EnrichRun is what one trigger of an action column queued, and what came of it.
type EnrichRun struct {
	ID        string
	ColumnID  string
	Trigger   string // created, rows, manual
	Only      string // all, failed, empty
	CreatedAt time.Time
	Counts    RunCounts
}

// RunCounts are a run's statistics.
type RunCounts struct {
	Queued    int `json:"queued"`
	CacheHits int `json:"cache_hits"`
	Lookups   int `json:"lookups"`
	Found     int `json:"found"`
	NotFound  int `json:"not_found"`
	Failed    int `json:"failed"`
	Skipped   int `json:"skipped"`
}

const enrichRunColumns = `id, column_id, trigger, only_cells, created_at, queued, cache_hits, lookups, found, not_found, failed, skipped`

func scanEnrichRun(sc interface{ Scan(...any) error }) (*EnrichRun, error) {
	var r EnrichRun
	c := &r.Counts
	if err := sc.Scan(&r.ID, &r.ColumnID, &r.Trigger, &r.Only, &r.CreatedAt, &c.Queued, &c.CacheHits, &c.Lookups, &c.Found, &c.NotFound,
		&c.Failed, &c.Skipped); err != nil {
		return nil, err
	}
	return &r, nil
}

// CreateEnrichRun inserts a run.
func (t *Tx) CreateEnrichRun(ctx context.Context, r *EnrichRun) error {
	if r.ID == "" {
		r.ID = NewID("erun")
	}
	r.CreatedAt = time.Now().UTC()
	c := r.Counts
	_, err := t.s.exec(ctx, t.tx, `INSERT INTO enrich_runs (`+enrichRunColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`,
		r.ID, r.ColumnID, r.Trigger, r.Only, r.CreatedAt, c.Queued, c.CacheHits, c.Lookups, c.Found, c.NotFound, c.Failed, c.Skipped)
	if err != nil {
		return fmt.Errorf("insert enrichment run: %w", err)
	}
	return nil
}

// AddRunCounts adds d to a run's statistics.
func (t *Tx) AddRunCounts(ctx context.Context, runID string, d RunCounts) error {
	if runID == "" || d == (RunCounts{}) {
		return nil
	}
	_, err := t.s.exec(ctx, t.tx, `UPDATE enrich_runs SET queued=queued+?, cache_hits=cache_hits+?, lookups=lookups+?, found=found+?,
		not_found=not_found+?, failed=failed+?, skipped=skipped+? WHERE id=?`,
		d.Queued, d.CacheHits, d.Lookups, d.Found, d.NotFound, d.Failed, d.Skipped, runID)
	if err != nil {
		return fmt.Errorf("count run %s: %w", runID, err)
	}
	return nil
}

// EnrichRuns returns a column's newest runs first.
func (s *Store) EnrichRuns(ctx context.Context, columnID string, limit int) ([]*EnrichRun, error) {
	rows, err := s.query(ctx, s.read, `SELECT `+enrichRunColumns+` FROM enrich_runs WHERE column_id=? ORDER BY created_at DESC, id DESC LIMIT ?`, columnID, limit)
	if err != nil {
		return nil, fmt.Errorf("list enrichment runs: %w", err)
	}
	defer rows.Close()
	var out []*EnrichRun
	for rows.Next() {
		r, err := scanEnrichRun(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// GetEnrichRun returns one run of a column.
func (s *Store) GetEnrichRun(ctx context.Context, columnID, id string) (*EnrichRun, error) {
	r, err := scanEnrichRun(s.queryRow(ctx, s.read, `SELECT `+enrichRunColumns+` FROM enrich_runs WHERE id=? AND column_id=?`, id, columnID))
	if err != nil {
		return nil, notFound(err, "enrichment run "+id)
	}
	return r, nil
}

// TotalRunCounts sums every run of a column.
func (s *Store) TotalRunCounts(ctx context.Context, columnID string) (RunCounts, error) {
	var c RunCounts
	err := s.queryRow(ctx, s.read, `SELECT COALESCE(SUM(queued),0), COALESCE(SUM(cache_hits),0), COALESCE(SUM(lookups),0), COALESCE(SUM(found),0),
		COALESCE(SUM(not_found),0), COALESCE(SUM(failed),0), COALESCE(SUM(skipped),0) FROM enrich_runs WHERE column_id=?`, columnID).
		Scan(&c.Queued, &c.CacheHits, &c.Lookups, &c.Found, &c.NotFound, &c.Failed, &c.Skipped)
	if err != nil {
		return c, fmt.Errorf("sum runs of %s: %w", columnID, err)
	}
	return c, nil
}

// DeleteEnrichRun removes a run that queued nothing.
func (s *Store) DeleteEnrichRun(ctx context.Context, id string) error {
	if _, err := s.exec(ctx, s.write, `DELETE FROM enrich_runs WHERE id=? AND queued=0`, id); err != nil {
		return fmt.Errorf("delete enrichment run %s: %w", id, err)
	}
	return nil
}
