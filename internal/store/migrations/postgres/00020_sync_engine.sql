-- +goose Up
-- hash: sha256 of the row's canonical values, to tell a change from a re-write cheaply.
ALTER TABLE table_rows ADD COLUMN hash TEXT NOT NULL DEFAULT '';
-- remote: the fields the provider holds for this record as Patchbay last saw or
-- wrote them (echo suppression and null protection compare against it).
ALTER TABLE row_sources ADD COLUMN remote TEXT NOT NULL DEFAULT '{}';
-- seen_gen: the full-refresh generation that last saw the record (mark and sweep).
ALTER TABLE row_sources ADD COLUMN seen_gen TEXT NOT NULL DEFAULT '';
-- deleted_at: the record disappeared at the source.
ALTER TABLE row_sources ADD COLUMN deleted_at TIMESTAMPTZ;
ALTER TABLE row_sources ADD COLUMN pushed_at TIMESTAMPTZ;
CREATE INDEX row_sources_gen ON row_sources(table_id, connection_id, object, seen_gen);
CREATE INDEX syncs_table ON syncs(table_id);
CREATE INDEX syncs_due ON syncs(next_run_at);

-- +goose Down
DROP INDEX syncs_due;
DROP INDEX syncs_table;
DROP INDEX row_sources_gen;
ALTER TABLE row_sources DROP COLUMN pushed_at;
ALTER TABLE row_sources DROP COLUMN deleted_at;
ALTER TABLE row_sources DROP COLUMN seen_gen;
ALTER TABLE row_sources DROP COLUMN remote;
ALTER TABLE table_rows DROP COLUMN hash;
