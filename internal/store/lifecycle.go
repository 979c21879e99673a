package store

import (
	"context"
	"fmt"
	"slices"
)

// Removing what users made: a sync, a row, a table with everything that
// belongs to it, a connection nothing uses any more. The schema's cascades
// take the dependants (runs, sources, cells, hooks); these say the order.

// DeleteSync removes a workspace's sync and its run history.
func (t *Tx) DeleteSync(ctx context.Context, workspaceID, id string) error {
	res, err := t.s.exec(ctx, t.tx, `DELETE FROM syncs WHERE id=? AND workspace_id=?`, id, workspaceID)
	if err != nil {
		return fmt.Errorf("delete sync %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("sync %s: %w", id, ErrNotFound)
	}
	return nil
}

// DeleteRow removes one row of a table, with its sources and cells.
func (t *Tx) DeleteRow(ctx context.Context, tableID, id string) error {
	res, err := t.s.exec(ctx, t.tx, `DELETE FROM table_rows WHERE id=? AND table_id=?`, id, tableID)
	if err != nil {
		return fmt.Errorf("delete row %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("row %s: %w", id, ErrNotFound)
	}
	return nil
}

// DeleteTable removes a workspace's table with its syncs (and their runs),
// rows, action columns and hooks.
func (t *Tx) DeleteTable(ctx context.Context, workspaceID, id string) error {
	if _, err := t.s.exec(ctx, t.tx, `DELETE FROM syncs WHERE table_id=? AND workspace_id=?`, id, workspaceID); err != nil {
		return fmt.Errorf("delete syncs of table %s: %w", id, err)
	}
	res, err := t.s.exec(ctx, t.tx, `DELETE FROM data_tables WHERE id=? AND workspace_id=?`, id, workspaceID)
	if err != nil {
		return fmt.Errorf("delete table %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("table %s: %w", id, ErrNotFound)
	}
	return nil
}

// ConnectionUsers are what still uses a connection: syncs and action columns.
type ConnectionUsers struct {
	Syncs         []*Sync
	ActionColumns []*ActionColumn
}

// Empty reports whether nothing uses the connection.
func (u ConnectionUsers) Empty() bool { return len(u.Syncs) == 0 && len(u.ActionColumns) == 0 }

// UsersOfConnection lists the syncs and action columns that use a connection.
func (s *Store) UsersOfConnection(ctx context.Context, workspaceID, connectionID string) (ConnectionUsers, error) {
	var u ConnectionUsers
	var err error
	if u.Syncs, err = s.listSyncs(ctx, `workspace_id=? AND connection_id=?`, workspaceID, connectionID); err != nil {
		return u, err
	}
	cols, err := s.listActionColumns(ctx, `workspace_id=?`, workspaceID)
	if err != nil {
		return u, err
	}
	for _, a := range cols {
		if slices.Contains(a.Spec.ConnectionIDs, connectionID) {
			u.ActionColumns = append(u.ActionColumns, a)
		}
	}
	return u, nil
}
