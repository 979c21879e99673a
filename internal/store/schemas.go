package store

import (
	"context"
	"fmt"
	"time"
)

// ConnectionSchema is a connection's schema as last fetched from the
// provider; Body is its JSON (the store does not read it).
type ConnectionSchema struct {
	ConnectionID string
	Body         string
	FetchedAt    time.Time
}

// SaveSchema stores a freshly fetched schema, replacing the last one.
func (s *Store) SaveSchema(ctx context.Context, sc ConnectionSchema) error {
	_, err := s.exec(ctx, s.write, `INSERT INTO connection_schemas (connection_id, body, fetched_at) VALUES (?,?,?)
		ON CONFLICT (connection_id) DO UPDATE SET body=excluded.body, fetched_at=excluded.fetched_at`,
		sc.ConnectionID, sc.Body, sc.FetchedAt.UTC())
	if err != nil {
		return fmt.Errorf("save schema of %s: %w", sc.ConnectionID, err)
	}
	return nil
}

// Schema returns a connection's cached schema; ErrNotFound before the first fetch.
func (s *Store) Schema(ctx context.Context, connID string) (ConnectionSchema, error) {
	sc := ConnectionSchema{ConnectionID: connID}
	err := s.queryRow(ctx, s.read, `SELECT body, fetched_at FROM connection_schemas WHERE connection_id=?`, connID).
		Scan(&sc.Body, &sc.FetchedAt)
	if err != nil {
		return ConnectionSchema{}, notFound(err, "schema of connection "+connID)
	}
	sc.FetchedAt = sc.FetchedAt.UTC()
	return sc, nil
}

// SchemasFetchedBefore lists the connected connections whose schema was last
// fetched before t, or never, oldest first (the slow background refresh).
func (s *Store) SchemasFetchedBefore(ctx context.Context, t time.Time, limit int) ([]string, error) {
	rows, err := s.query(ctx, s.read, `SELECT c.id FROM connections c LEFT JOIN connection_schemas sc ON sc.connection_id = c.id
		WHERE c.status = 'connected' AND (sc.fetched_at IS NULL OR sc.fetched_at < ?) ORDER BY sc.fetched_at, c.id LIMIT ?`, t.UTC(), limit)
	if err != nil {
		return nil, fmt.Errorf("schemas due: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
