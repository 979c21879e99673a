package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Row is one row of a table. Values are JSON values keyed by column name.
type Row struct {
	ID        string
	TableID   string
	Values    map[string]any
	Hash      string // RowHash(Values), kept so a re-write can be told from a change cheaply
	CreatedAt time.Time
	UpdatedAt time.Time
	DeletedAt time.Time // the record the row came from disappeared at its source
}

// RowHash is the hash of a row's values in canonical form (JSON with sorted keys).
func RowHash(values map[string]any) string {
	_, h := rowJSON(values)
	return h
}

// rowJSON is a row's values as stored (JSON; maps encode with sorted keys,
// so this is the canonical form) and its hash, from one encoding.
func rowJSON(values map[string]any) (text, hash string) {
	b, err := json.Marshal(values)
	if err != nil {
		panic(fmt.Sprintf("store: row values are not JSON: %v", err)) // values come from decoded JSON or typed conversion
	}
	sum := sha256.Sum256(b)
	return string(b), hex.EncodeToString(sum[:16])
}

// ListTables returns a workspace's tables by id.
func (s *Store) ListTables(ctx context.Context, workspaceID string) ([]*Table, error) {
	rows, err := s.query(ctx, s.read, `SELECT id, workspace_id, name, columns, created_at, updated_at FROM data_tables WHERE workspace_id=? ORDER BY id`, workspaceID)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	defer rows.Close()
	var out []*Table
	for rows.Next() {
		var tb Table
		var cols string
		if err := rows.Scan(&tb.ID, &tb.WorkspaceID, &tb.Name, &cols, &tb.CreatedAt, &tb.UpdatedAt); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(cols), &tb.Columns); err != nil {
			return nil, fmt.Errorf("table %s columns: %w", tb.ID, err)
		}
		out = append(out, &tb)
	}
	return out, rows.Err()
}

// TableByID returns a table whatever its workspace (the sync engine's view;
// the API goes through GetTable, which checks the workspace).
func (s *Store) TableByID(ctx context.Context, id string) (*Table, error) {
	var ws string
	if err := s.queryRow(ctx, s.read, `SELECT workspace_id FROM data_tables WHERE id=?`, id).Scan(&ws); err != nil {
		return nil, notFound(err, "table "+id)
	}
	return s.GetTable(ctx, ws, id)
}

const rowColumns = `id, table_id, vals, hash, created_at, updated_at, deleted_at`

func scanRow(sc interface{ Scan(...any) error }) (*Row, error) {
	var r Row
	var vals string
	var del sql.NullTime
	if err := sc.Scan(&r.ID, &r.TableID, &vals, &r.Hash, &r.CreatedAt, &r.UpdatedAt, &del); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(vals), &r.Values); err != nil {
		return nil, fmt.Errorf("row %s values: %w", r.ID, err)
	}
	if r.Values == nil {
		r.Values = map[string]any{}
	}
	r.DeletedAt = timeOf(del)
	return &r, nil
}

// InsertRow adds a row; it sets the id (when empty), the hash and the times.
func (t *Tx) InsertRow(ctx context.Context, r *Row) error {
	if r.ID == "" {
		r.ID = NewID("row")
	}
	if r.Values == nil {
		r.Values = map[string]any{}
	}
	now := time.Now().UTC()
	vals, hash := rowJSON(r.Values)
	r.CreatedAt, r.UpdatedAt, r.Hash = now, now, hash
	_, err := t.s.exec(ctx, t.tx, `INSERT INTO table_rows (`+rowColumns+`) VALUES (?,?,?,?,?,?,?)`,
		r.ID, r.TableID, vals, r.Hash, now, now, nullTime(r.DeletedAt))
	if err != nil {
		return fmt.Errorf("insert row: %w", err)
	}
	return nil
}

// UpdateRow writes a row's values and deletion mark; it refreshes the hash.
func (t *Tx) UpdateRow(ctx context.Context, r *Row) error {
	vals, hash := rowJSON(r.Values)
	r.UpdatedAt, r.Hash = time.Now().UTC(), hash
	res, err := t.s.exec(ctx, t.tx, `UPDATE table_rows SET vals=?, hash=?, updated_at=?, deleted_at=? WHERE id=? AND table_id=?`,
		vals, r.Hash, r.UpdatedAt, nullTime(r.DeletedAt), r.ID, r.TableID)
	if err != nil {
		return fmt.Errorf("update row %s: %w", r.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("row %s: %w", r.ID, ErrNotFound)
	}
	return nil
}

// GetRow returns one row of a table inside the transaction.
func (t *Tx) GetRow(ctx context.Context, tableID, id string) (*Row, error) {
	r, err := scanRow(t.s.queryRow(ctx, t.tx, `SELECT `+rowColumns+` FROM table_rows WHERE id=? AND table_id=?`, id, tableID))
	if err != nil {
		return nil, notFound(err, "row "+id)
	}
	return r, nil
}

// ListRows returns up to limit rows of a table whose id sorts after the given
// one (keyset paging: each page is one indexed range scan, whatever the table's size).
func (s *Store) ListRows(ctx context.Context, tableID, after string, limit int, includeDeleted bool) ([]*Row, error) {
	q := `SELECT ` + rowColumns + ` FROM table_rows WHERE table_id=? AND id>?`
	if !includeDeleted {
		q += ` AND deleted_at IS NULL`
	}
	rows, err := s.query(ctx, s.read, q+` ORDER BY id LIMIT ?`, tableID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list rows: %w", err)
	}
	defer rows.Close()
	var out []*Row
	for rows.Next() {
		r, err := scanRow(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Source links a row to the record it came from, or was pushed to, at one
// connection's object.
type Source struct {
	TableID      string
	RowID        string
	ConnectionID string
	Object       string
	ExternalID   string
	// PushedHash is the hash of the mapped values last written successfully.
	PushedHash string
	// Remote is what the provider holds for the record's fields, as last read
	// or written by Patchbay.
	Remote    map[string]string
	SeenGen   string
	DeletedAt time.Time
	PushedAt  time.Time
}

const sourceColumns = `table_id, row_id, connection_id, object, external_id, pushed_hash, remote, seen_gen, deleted_at, pushed_at`

func scanSource(sc interface{ Scan(...any) error }) (*Source, error) {
	var src Source
	var remote string
	var del, pushed sql.NullTime
	if err := sc.Scan(&src.TableID, &src.RowID, &src.ConnectionID, &src.Object, &src.ExternalID, &src.PushedHash, &remote, &src.SeenGen, &del, &pushed); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(remote), &src.Remote); err != nil {
		return nil, fmt.Errorf("row source %s remote: %w", src.ExternalID, err)
	}
	if src.Remote == nil {
		src.Remote = map[string]string{}
	}
	src.DeletedAt, src.PushedAt = timeOf(del), timeOf(pushed)
	return &src, nil
}

// PutSource inserts or replaces a row's link to an external record.
func (t *Tx) PutSource(ctx context.Context, src *Source) error {
	remote := src.Remote
	if remote == nil {
		remote = map[string]string{}
	}
	_, err := t.s.exec(ctx, t.tx, `INSERT INTO row_sources (`+sourceColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT (table_id, connection_id, object, external_id) DO UPDATE SET row_id=excluded.row_id, pushed_hash=excluded.pushed_hash,
		remote=excluded.remote, seen_gen=excluded.seen_gen, deleted_at=excluded.deleted_at, pushed_at=excluded.pushed_at`,
		src.TableID, src.RowID, src.ConnectionID, src.Object, src.ExternalID, src.PushedHash, jsonText(remote), src.SeenGen,
		nullTime(src.DeletedAt), nullTime(src.PushedAt))
	if err != nil {
		return fmt.Errorf("put row source %s/%s: %w", src.Object, src.ExternalID, err)
	}
	return nil
}

// SourcedRow is a row found through its link to an external record.
type SourcedRow struct {
	Source *Source
	Row    *Row
}

// RowsByExternalID finds, in one query, the rows linked to the given external
// records of a connection's object; the map is keyed by external id.
func (t *Tx) RowsByExternalID(ctx context.Context, tableID, connectionID, object string, externalIDs []string) (map[string]SourcedRow, error) {
	out := make(map[string]SourcedRow, len(externalIDs))
	if len(externalIDs) == 0 {
		return out, nil
	}
	args := []any{tableID, connectionID, object}
	for _, id := range externalIDs {
		args = append(args, id)
	}
	q := `SELECT s.table_id, s.row_id, s.connection_id, s.object, s.external_id, s.pushed_hash, s.remote, s.seen_gen, s.deleted_at, s.pushed_at,
		r.id, r.table_id, r.vals, r.hash, r.created_at, r.updated_at, r.deleted_at
		FROM row_sources s JOIN table_rows r ON r.id = s.row_id
		WHERE s.table_id=? AND s.connection_id=? AND s.object=? AND s.external_id IN (` + placeholders(len(externalIDs)) + `)`
	rows, err := t.s.query(ctx, t.tx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("find rows by external id: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var sr SourcedRow
		var src Source
		var r Row
		var remote, vals string
		var sdel, pushed, rdel sql.NullTime
		if err := rows.Scan(&src.TableID, &src.RowID, &src.ConnectionID, &src.Object, &src.ExternalID, &src.PushedHash, &remote, &src.SeenGen, &sdel, &pushed,
			&r.ID, &r.TableID, &vals, &r.Hash, &r.CreatedAt, &r.UpdatedAt, &rdel); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(remote), &src.Remote); err != nil {
			return nil, fmt.Errorf("row source %s remote: %w", src.ExternalID, err)
		}
		if err := json.Unmarshal([]byte(vals), &r.Values); err != nil {
			return nil, fmt.Errorf("row %s values: %w", r.ID, err)
		}
		if src.Remote == nil {
			src.Remote = map[string]string{}
		}
		if r.Values == nil {
			r.Values = map[string]any{}
		}
		src.DeletedAt, src.PushedAt, r.DeletedAt = timeOf(sdel), timeOf(pushed), timeOf(rdel)
		sr.Source, sr.Row = &src, &r
		out[src.ExternalID] = sr
	}
	return out, rows.Err()
}

// SourcesOfRows returns the links of the given rows to a connection's object,
// keyed by row id (a row has at most one record per connection and object
// that it is pushed to; with several, the first by external id wins).
func (s *Store) SourcesOfRows(ctx context.Context, tableID, connectionID, object string, rowIDs []string) (map[string]*Source, error) {
	out := make(map[string]*Source, len(rowIDs))
	if len(rowIDs) == 0 {
		return out, nil
	}
	args := make([]any, len(rowIDs))
	for i, id := range rowIDs {
		args[i] = id
	}
	// By row id alone, so the row index serves the query; a row has few sources.
	rows, err := s.query(ctx, s.read, `SELECT `+sourceColumns+` FROM row_sources WHERE row_id IN (`+placeholders(len(rowIDs))+`)
		ORDER BY external_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("sources of rows: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		src, err := scanSource(rows)
		if err != nil {
			return nil, err
		}
		if src.TableID != tableID || src.ConnectionID != connectionID || src.Object != object {
			continue
		}
		if _, dup := out[src.RowID]; !dup {
			out[src.RowID] = src
		}
	}
	return out, rows.Err()
}

// SourcesOfRowIDs returns the external records of the given rows, keyed by row id.
func (s *Store) SourcesOfRowIDs(ctx context.Context, rowIDs []string) (map[string][]*Source, error) {
	out := make(map[string][]*Source, len(rowIDs))
	if len(rowIDs) == 0 {
		return out, nil
	}
	args := make([]any, len(rowIDs))
	for i, id := range rowIDs {
		args[i] = id
	}
	rows, err := s.query(ctx, s.read, `SELECT `+sourceColumns+` FROM row_sources WHERE row_id IN (`+placeholders(len(rowIDs))+`)
		ORDER BY connection_id, object, external_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("sources of rows: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		src, err := scanSource(rows)
		if err != nil {
			return nil, err
		}
		out[src.RowID] = append(out[src.RowID], src)
	}
	return out, rows.Err()
}

// SweepSources marks the records of a connection's object that the full
// refresh generation gen did not see as deleted at the source, and marks
// their rows deleted when no other live source holds them. It returns how
// many records were marked.
func (t *Tx) SweepSources(ctx context.Context, tableID, connectionID, object, gen string) (int, error) {
	now := time.Now().UTC().Truncate(time.Microsecond) // the mark is matched again below; PostgreSQL keeps microseconds
	res, err := t.s.exec(ctx, t.tx, `UPDATE row_sources SET deleted_at=? WHERE table_id=? AND connection_id=? AND object=? AND seen_gen<>? AND deleted_at IS NULL`,
		now, tableID, connectionID, object, gen)
	if err != nil {
		return 0, fmt.Errorf("sweep row sources: %w", err)
	}
	n, _ := res.RowsAffected()
	if n == 0 {
		return 0, nil
	}
	_, err = t.s.exec(ctx, t.tx, `UPDATE table_rows SET deleted_at=?, updated_at=? WHERE table_id=? AND deleted_at IS NULL
		AND id IN (SELECT row_id FROM row_sources WHERE table_id=? AND connection_id=? AND object=? AND deleted_at=?)
		AND NOT EXISTS (SELECT 1 FROM row_sources o WHERE o.row_id = table_rows.id AND o.deleted_at IS NULL)`,
		now, now, tableID, tableID, connectionID, object, now)
	if err != nil {
		return 0, fmt.Errorf("mark rows deleted: %w", err)
	}
	return int(n), nil
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}
