package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// Column is a typed column of a table.
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"` // text, number, boolean, datetime, json
}

// Table is a user's table of rows.
type Table struct {
	ID          string
	WorkspaceID string
	Name        string
	Columns     []Column
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// CreateTable inserts a table.
func (t *Tx) CreateTable(ctx context.Context, tb *Table) error {
	if tb.ID == "" {
		tb.ID = NewID("tbl")
	}
	now := time.Now().UTC()
	tb.CreatedAt, tb.UpdatedAt = now, now
	_, err := t.s.exec(ctx, t.tx, `INSERT INTO data_tables (id, workspace_id, name, columns, created_at, updated_at) VALUES (?,?,?,?,?,?)`,
		tb.ID, tb.WorkspaceID, tb.Name, jsonText(emptyIfNil(tb.Columns)), now, now)
	if err != nil {
		return fmt.Errorf("insert table: %w", err)
	}
	return nil
}

// GetTable returns a workspace's table.
func (s *Store) GetTable(ctx context.Context, workspaceID, id string) (*Table, error) {
	var tb Table
	var cols string
	err := s.queryRow(ctx, s.read, `SELECT id, workspace_id, name, columns, created_at, updated_at FROM data_tables WHERE id=? AND workspace_id=?`,
		id, workspaceID).Scan(&tb.ID, &tb.WorkspaceID, &tb.Name, &cols, &tb.CreatedAt, &tb.UpdatedAt)
	if err != nil {
		return nil, notFound(err, "table "+id)
	}
	if err := json.Unmarshal([]byte(cols), &tb.Columns); err != nil {
		return nil, fmt.Errorf("table %s columns: %w", id, err)
	}
	return &tb, nil
}

// Sync is an inbound or outbound sync between a table and a connection.
type Sync struct {
	ID           string
	WorkspaceID  string
	ConnectionID string
	TableID      string
	Direction    string // inbound, outbound
	Object       string
	Filter       string
	Mapping      []Mapping
	MatchKey     string
	Mode         string // incremental, full
	Schedule     string // manual, every:15m, realtime
	Paused       bool
	PauseReason  string // "" when running; user, disconnected, auth_failed
	Cursor       string
	MaxRecords   int
	NextRunAt    time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Mapping maps a source field to a target field.
type Mapping struct {
	Source string `json:"source"`
	Target string `json:"target"`
	// OverwriteEmpty lets an empty source value clear the target (null protection off).
	OverwriteEmpty bool `json:"overwrite_empty,omitempty"`
}

const syncColumns = `id, workspace_id, connection_id, table_id, direction, object, filter, mapping, match_key, mode, schedule,
	paused, pause_reason, cursor, max_records, next_run_at, created_at, updated_at`

func scanSync(sc interface{ Scan(...any) error }) (*Sync, error) {
	var y Sync
	var mapping string
	var next sql.NullTime
	err := sc.Scan(&y.ID, &y.WorkspaceID, &y.ConnectionID, &y.TableID, &y.Direction, &y.Object, &y.Filter, &mapping, &y.MatchKey,
		&y.Mode, &y.Schedule, &y.Paused, &y.PauseReason, &y.Cursor, &y.MaxRecords, &next, &y.CreatedAt, &y.UpdatedAt)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(mapping), &y.Mapping); err != nil {
		return nil, fmt.Errorf("sync %s mapping: %w", y.ID, err)
	}
	y.NextRunAt = timeOf(next)
	return &y, nil
}

// CreateSync inserts a sync.
func (t *Tx) CreateSync(ctx context.Context, y *Sync) error {
	if y.ID == "" {
		y.ID = NewID("syn")
	}
	now := time.Now().UTC()
	y.CreatedAt, y.UpdatedAt = now, now
	_, err := t.s.exec(ctx, t.tx, `INSERT INTO syncs (`+syncColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		y.ID, y.WorkspaceID, y.ConnectionID, y.TableID, y.Direction, y.Object, y.Filter, jsonText(emptyIfNil(y.Mapping)), y.MatchKey,
		y.Mode, y.Schedule, y.Paused, y.PauseReason, y.Cursor, y.MaxRecords, nullTime(y.NextRunAt), now, now)
	if err != nil {
		return fmt.Errorf("insert sync: %w", err)
	}
	return nil
}

// UpdateSync writes every field of y.
func (t *Tx) UpdateSync(ctx context.Context, y *Sync) error {
	y.UpdatedAt = time.Now().UTC()
	_, err := t.s.exec(ctx, t.tx, `UPDATE syncs SET direction=?, connection_id=?, object=?, filter=?, mapping=?, match_key=?, mode=?, schedule=?,
		paused=?, pause_reason=?, cursor=?, max_records=?, next_run_at=?, updated_at=? WHERE id=?`,
		y.Direction, y.ConnectionID, y.Object, y.Filter, jsonText(emptyIfNil(y.Mapping)), y.MatchKey, y.Mode, y.Schedule, y.Paused, y.PauseReason,
		y.Cursor, y.MaxRecords, nullTime(y.NextRunAt), y.UpdatedAt, y.ID)
	if err != nil {
		return fmt.Errorf("update sync %s: %w", y.ID, err)
	}
	return nil
}

// GetSync returns a workspace's sync.
func (s *Store) GetSync(ctx context.Context, workspaceID, id string) (*Sync, error) {
	y, err := scanSync(s.queryRow(ctx, s.read, `SELECT `+syncColumns+` FROM syncs WHERE id=? AND workspace_id=?`, id, workspaceID))
	if err != nil {
		return nil, notFound(err, "sync "+id)
	}
	return y, nil
}

// ListSyncs returns the syncs of a connection.
func (s *Store) ListSyncs(ctx context.Context, connectionID string) ([]*Sync, error) {
	rows, err := s.query(ctx, s.read, `SELECT `+syncColumns+` FROM syncs WHERE connection_id=? ORDER BY id`, connectionID)
	if err != nil {
		return nil, fmt.Errorf("list syncs: %w", err)
	}
	defer rows.Close()
	var out []*Sync
	for rows.Next() {
		y, err := scanSync(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, y)
	}
	return out, rows.Err()
}

// PauseSyncs pauses the running syncs of a connection with a reason; syncs the
// user paused keep their own reason.
func (t *Tx) PauseSyncs(ctx context.Context, connectionID, reason string) error {
	_, err := t.s.exec(ctx, t.tx, `UPDATE syncs SET paused=?, pause_reason=?, updated_at=? WHERE connection_id=? AND NOT paused`,
		true, reason, time.Now().UTC(), connectionID)
	if err != nil {
		return fmt.Errorf("pause syncs of %s: %w", connectionID, err)
	}
	return nil
}

// ResumeSyncs resumes the syncs of a connection paused for one of reasons
// (never those paused by the user) and returns their ids.
func (t *Tx) ResumeSyncs(ctx context.Context, connectionID string, reasons ...string) ([]string, error) {
	var ids []string
	for _, r := range reasons {
		rows, err := t.s.query(ctx, t.tx, `SELECT id FROM syncs WHERE connection_id=? AND paused AND pause_reason=?`, connectionID, r)
		if err != nil {
			return nil, fmt.Errorf("find paused syncs: %w", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if _, err := t.s.exec(ctx, t.tx, `UPDATE syncs SET paused=?, pause_reason='', updated_at=? WHERE connection_id=? AND paused AND pause_reason=?`,
			false, time.Now().UTC(), connectionID, r); err != nil {
			return nil, fmt.Errorf("resume syncs of %s: %w", connectionID, err)
		}
	}
	return ids, nil
}

// Run is one execution of a sync.
type Run struct {
	ID          string
	SyncID      string
	WorkspaceID string
	Trigger     string // manual, schedule, webhook, reconnect
	Status      string // running, succeeded, failed, partial
	StartedAt   time.Time
	FinishedAt  time.Time
	Read        int
	Created     int
	Updated     int
	Unchanged   int
	Failed      int
	ErrorClass  string
	Error       string
	RowErrors   []RowError
}

// RowError is a sample of what went wrong with one row.
type RowError struct {
	RowID      string `json:"row_id,omitempty"`
	ExternalID string `json:"external_id,omitempty"`
	Message    string `json:"message"`
}

const runColumns = `id, sync_id, workspace_id, trigger, status, started_at, finished_at, n_read, n_created, n_updated,
	n_unchanged, n_failed, error_class, error, row_errors`

// SaveRun inserts or replaces a run record.
func (s *Store) SaveRun(ctx context.Context, r *Run) error {
	if r.ID == "" {
		r.ID = NewID("run")
	}
	_, err := s.exec(ctx, s.write, `INSERT INTO sync_runs (`+runColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT (id) DO UPDATE SET status=excluded.status, finished_at=excluded.finished_at, n_read=excluded.n_read,
		n_created=excluded.n_created, n_updated=excluded.n_updated, n_unchanged=excluded.n_unchanged, n_failed=excluded.n_failed,
		error_class=excluded.error_class, error=excluded.error, row_errors=excluded.row_errors`,
		r.ID, r.SyncID, r.WorkspaceID, r.Trigger, r.Status, r.StartedAt.UTC(), nullTime(r.FinishedAt), r.Read, r.Created, r.Updated,
		r.Unchanged, r.Failed, r.ErrorClass, r.Error, jsonText(emptyIfNil(r.RowErrors)))
	if err != nil {
		return fmt.Errorf("save run: %w", err)
	}
	return nil
}

// ListRuns returns the newest runs of a workspace, for one sync or for all
// syncs of one connection.
func (s *Store) ListRuns(ctx context.Context, workspaceID, syncID, connectionID string, limit int) ([]*Run, error) {
	q := `SELECT ` + runColumns + ` FROM sync_runs WHERE workspace_id=?`
	args := []any{workspaceID}
	if syncID != "" {
		q += ` AND sync_id=?`
		args = append(args, syncID)
	}
	if connectionID != "" {
		q += ` AND sync_id IN (SELECT id FROM syncs WHERE connection_id=?)`
		args = append(args, connectionID)
	}
	q += ` ORDER BY started_at DESC, id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.query(ctx, s.read, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	defer rows.Close()
	var out []*Run
	for rows.Next() {
		var r Run
		var fin sql.NullTime
		var rowErrs string
		if err := rows.Scan(&r.ID, &r.SyncID, &r.WorkspaceID, &r.Trigger, &r.Status, &r.StartedAt, &fin, &r.Read, &r.Created,
			&r.Updated, &r.Unchanged, &r.Failed, &r.ErrorClass, &r.Error, &rowErrs); err != nil {
			return nil, err
		}
		r.FinishedAt = timeOf(fin)
		if err := json.Unmarshal([]byte(rowErrs), &r.RowErrors); err != nil {
			return nil, fmt.Errorf("run %s row errors: %w", r.ID, err)
		}
		out = append(out, &r)
	}
	return out, rows.Err()
}

// PauseSync pauses one sync with a reason unless it is already paused.
func (t *Tx) PauseSync(ctx context.Context, syncID, reason string) error {
	_, err := t.s.exec(ctx, t.tx, `UPDATE syncs SET paused=?, pause_reason=?, updated_at=? WHERE id=? AND NOT paused`,
		true, reason, time.Now().UTC(), syncID)
	if err != nil {
		return fmt.Errorf("pause sync %s: %w", syncID, err)
	}
	return nil
}
