package store

import (
	"context"
	"fmt"
)

// RowsByValue finds, in one query, the rows of a table whose column holds
// one of the given values (compared as text), however the rows came in: the
// map is keyed by value, and a live row wins over a deleted one.
func (t *Tx) RowsByValue(ctx context.Context, tableID, column string, values []string) (map[string]*Row, error) {
	out := make(map[string]*Row, len(values))
	if len(values) == 0 {
		return out, nil
	}
	// SQLite reads a right operand of ->> that is not a path as an object
	// label, PostgreSQL a text operand as a key: both name the column.
	expr := `CAST(vals ->> ? AS TEXT)`
	if t.s.dialect == Postgres {
		expr = `(vals::jsonb ->> ?)`
	}
	args := []any{column, tableID, column}
	for _, v := range values {
		args = append(args, v)
	}
	q := `SELECT ` + rowColumns + `, ` + expr + ` FROM table_rows WHERE table_id=? AND ` + expr + ` IN (` + placeholders(len(values)) + `)
		ORDER BY deleted_at IS NOT NULL, id`
	rows, err := t.s.query(ctx, t.tx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("find rows by %s: %w", column, err)
	}
	defer rows.Close()
	for rows.Next() {
		var key string
		r, err := scanRow(scanPlus{rows, &key})
		if err != nil {
			return nil, err
		}
		if _, seen := out[key]; !seen {
			out[key] = r
		}
	}
	return out, rows.Err()
}

// scanPlus scans a row's columns followed by one more value.
type scanPlus struct {
	sc   interface{ Scan(...any) error }
	last any
}

func (s scanPlus) Scan(dest ...any) error { return s.sc.Scan(append(dest, s.last)...) }
