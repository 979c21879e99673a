package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// SyncByID returns a sync whatever its workspace (the sync engine's view).
func (s *Store) SyncByID(ctx context.Context, id string) (*Sync, error) {
	y, err := scanSync(s.queryRow(ctx, s.read, `SELECT `+syncColumns+` FROM syncs WHERE id=?`, id))
	if err != nil {
		return nil, notFound(err, "sync "+id)
	}
	return y, nil
}

// GetSync returns a sync inside the transaction, for read-modify-write.
func (t *Tx) GetSync(ctx context.Context, workspaceID, id string) (*Sync, error) {
	y, err := scanSync(t.s.queryRow(ctx, t.tx, `SELECT `+syncColumns+` FROM syncs WHERE id=? AND workspace_id=?`, id, workspaceID))
	if err != nil {
		return nil, notFound(err, "sync "+id)
	}
	return y, nil
}

func (s *Store) listSyncs(ctx context.Context, where string, args ...any) ([]*Sync, error) {
	rows, err := s.query(ctx, s.read, `SELECT `+syncColumns+` FROM syncs WHERE `+where+` ORDER BY id`, args...)
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

// ListTableSyncs returns the syncs of a workspace's table.
func (s *Store) ListTableSyncs(ctx context.Context, workspaceID, tableID string) ([]*Sync, error) {
	return s.listSyncs(ctx, `workspace_id=? AND table_id=?`, workspaceID, tableID)
}

// DueSyncs returns the unpaused syncs whose next run is due at now.
func (s *Store) DueSyncs(ctx context.Context, now time.Time) ([]*Sync, error) {
	return s.listSyncs(ctx, `NOT paused AND next_run_at IS NOT NULL AND next_run_at<=?`, now.UTC())
}

// RealtimeSyncs returns the unpaused syncs with a realtime schedule on the
// connections to one provider account (webhooks name the account).
func (s *Store) RealtimeSyncs(ctx context.Context, provider, accountID string) ([]*Sync, error) {
	return s.listSyncs(ctx, `NOT paused AND schedule='realtime' AND connection_id IN
		(SELECT id FROM connections WHERE provider=? AND account_id=?)`, provider, accountID)
}

// SetSyncCursor stores a sync's read position; the engine calls it in the
// transaction that stores the page the position is after.
func (t *Tx) SetSyncCursor(ctx context.Context, syncID, cursor string) error {
	if _, err := t.s.exec(ctx, t.tx, `UPDATE syncs SET cursor=? WHERE id=?`, cursor, syncID); err != nil {
		return fmt.Errorf("set cursor of %s: %w", syncID, err)
	}
	return nil
}

// SetNextRun sets when a sync runs next (zero: not scheduled).
func (s *Store) SetNextRun(ctx context.Context, syncID string, at time.Time) error {
	if _, err := s.exec(ctx, s.write, `UPDATE syncs SET next_run_at=? WHERE id=?`, nullTime(at), syncID); err != nil {
		return fmt.Errorf("schedule %s: %w", syncID, err)
	}
	return nil
}

// GetRun returns a workspace's run.
func (s *Store) GetRun(ctx context.Context, workspaceID, id string) (*Run, error) {
	var r Run
	var fin sql.NullTime
	var rowErrs string
	err := s.queryRow(ctx, s.read, `SELECT `+runColumns+` FROM sync_runs WHERE id=? AND workspace_id=?`, id, workspaceID).Scan(
		&r.ID, &r.SyncID, &r.WorkspaceID, &r.Trigger, &r.Status, &r.StartedAt, &fin, &r.Read, &r.Created,
		&r.Updated, &r.Unchanged, &r.Failed, &r.ErrorClass, &r.Error, &rowErrs)
	if err != nil {
		return nil, notFound(err, "run "+id)
	}
	r.FinishedAt = timeOf(fin)
	if err := json.Unmarshal([]byte(rowErrs), &r.RowErrors); err != nil {
		return nil, fmt.Errorf("run %s row errors: %w", r.ID, err)
	}
	return &r, nil
}

// PruneRuns deletes finished runs that started before cutoff, keeping the
// newest keep runs of every sync whatever their age. It returns how many went.
func (s *Store) PruneRuns(ctx context.Context, cutoff time.Time, keep int) (int, error) {
	res, err := s.exec(ctx, s.write, `DELETE FROM sync_runs WHERE started_at<? AND status<>'running' AND id IN
		(SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY sync_id ORDER BY started_at DESC, id DESC) AS n FROM sync_runs) ranked WHERE n>?)`,
		cutoff.UTC(), keep)
	if err != nil {
		return 0, fmt.Errorf("prune runs: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// ListTableSyncsAll returns every sync of a table (the engine's view).
func (s *Store) ListTableSyncsAll(ctx context.Context, tableID string) ([]*Sync, error) {
	return s.listSyncs(ctx, `table_id=?`, tableID)
}

// ListWorkspaceSyncs returns a workspace's syncs.
func (s *Store) ListWorkspaceSyncs(ctx context.Context, workspaceID string) ([]*Sync, error) {
	return s.listSyncs(ctx, `workspace_id=?`, workspaceID)
}
