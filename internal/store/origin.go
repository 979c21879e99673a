package store

import (
	"context"
	"fmt"
	"time"
)

// UpsertOriginRow writes the row of one external record (connection,
// object, external id) of a table: it inserts it, or, when a row of that
// record exists already (another run created it a moment ago), updates that
// row with r's values and sets r.ID to it. The record's key is unique per
// table, so a record never gets two rows however many runs meet it at once.
func (t *Tx) UpsertOriginRow(ctx context.Context, r *Row, connectionID, object, externalID string) error {
	if r.ID == "" {
		r.ID = NewID("row")
	}
	if r.Values == nil {
		r.Values = map[string]any{}
	}
	now := time.Now().UTC()
	r.CreatedAt, r.UpdatedAt, r.Hash = now, now, RowHash(r.Values)
	err := t.s.queryRow(ctx, t.tx, `INSERT INTO table_rows (`+rowColumns+`, origin_connection, origin_object, origin_external_id)
		VALUES (?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT (table_id, origin_connection, origin_object, origin_external_id)
		DO UPDATE SET vals=excluded.vals, hash=excluded.hash, updated_at=excluded.updated_at, deleted_at=excluded.deleted_at
		RETURNING id`,
		r.ID, r.TableID, jsonText(r.Values), r.Hash, now, now, nullTime(r.DeletedAt), connectionID, object, externalID).Scan(&r.ID)
	if err != nil {
		return fmt.Errorf("upsert row of %s/%s: %w", object, externalID, full(err))
	}
	return nil
}
