-- +goose Up
-- The record an inbound row came from, unique per table: two runs that read
-- the same new record at once cannot both create a row for it (the second
-- insert meets the key and updates the first's row instead). NULLs never
-- collide, so rows typed in or sent by the bridge are unaffected.
ALTER TABLE table_rows ADD COLUMN origin_connection TEXT;
ALTER TABLE table_rows ADD COLUMN origin_object TEXT;
ALTER TABLE table_rows ADD COLUMN origin_external_id TEXT;
-- Existing rows take their origin from their links (each link key belongs to
-- one row, so the backfill cannot collide).
UPDATE table_rows SET
    origin_connection = (SELECT s.connection_id FROM row_sources s WHERE s.row_id = table_rows.id ORDER BY s.connection_id, s.object, s.external_id LIMIT 1),
    origin_object = (SELECT s.object FROM row_sources s WHERE s.row_id = table_rows.id ORDER BY s.connection_id, s.object, s.external_id LIMIT 1),
    origin_external_id = (SELECT s.external_id FROM row_sources s WHERE s.row_id = table_rows.id ORDER BY s.connection_id, s.object, s.external_id LIMIT 1);
-- Duplicates left by two runs of one sync at once: a row without any link,
-- in a table an inbound sync fills, holding exactly the values of a linked
-- row of the same table. They are marked deleted (kept, hidden), not erased.
UPDATE table_rows SET deleted_at = CURRENT_TIMESTAMP
WHERE deleted_at IS NULL AND hash <> '' AND origin_external_id IS NULL
  AND NOT EXISTS (SELECT 1 FROM row_sources s WHERE s.row_id = table_rows.id)
  AND EXISTS (SELECT 1 FROM syncs y WHERE y.table_id = table_rows.table_id AND y.direction = 'inbound')
  AND EXISTS (SELECT 1 FROM table_rows o WHERE o.table_id = table_rows.table_id AND o.hash = table_rows.hash AND o.id <> table_rows.id AND o.origin_external_id IS NOT NULL);
CREATE UNIQUE INDEX table_rows_origin ON table_rows(table_id, origin_connection, origin_object, origin_external_id);

-- A run's ownership of its sync: a lease with a fencing token. Taking the
-- lease increments the token; every page a run commits checks, in the same
-- transaction, that the token is still its own, so a run whose lease was
-- taken over (it stalled, its process was cut off) cannot write again.
ALTER TABLE syncs ADD COLUMN lease_token INTEGER NOT NULL DEFAULT 0;
ALTER TABLE syncs ADD COLUMN lease_holder TEXT NOT NULL DEFAULT '';
ALTER TABLE syncs ADD COLUMN lease_expires_at TIMESTAMP;

-- Facts about the installation, one value per name (the master key's id).
CREATE TABLE installation (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- +goose Down
DROP TABLE installation;
ALTER TABLE syncs DROP COLUMN lease_expires_at;
ALTER TABLE syncs DROP COLUMN lease_holder;
ALTER TABLE syncs DROP COLUMN lease_token;
DROP INDEX table_rows_origin;
ALTER TABLE table_rows DROP COLUMN origin_external_id;
ALTER TABLE table_rows DROP COLUMN origin_object;
ALTER TABLE table_rows DROP COLUMN origin_connection;
