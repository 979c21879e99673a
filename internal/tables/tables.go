// Package tables owns user tables: typed columns, the validation of values
// written by people and scripts, the conversion of provider values into
// column values, and row writes through the API.
package tables

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"patchbay/internal/catalog"
	"patchbay/internal/connection"
	"patchbay/internal/store"
)

// Column types.
const (
	Text     = "text"
	Number   = "number"
	Boolean  = "boolean"
	DateTime = "datetime"
	JSON     = "json"
)

// Types lists the column types in the order the documentation gives them.
var Types = []string{Text, Number, Boolean, DateTime, JSON}

// Limits of one API write.
const (
	MaxColumns    = 200
	MaxRowsPerAdd = 1000
)

// ValidateColumns checks a table's column definitions.
func ValidateColumns(cols []store.Column) []catalog.FieldError {
	var errs []catalog.FieldError
	if len(cols) > MaxColumns {
		errs = append(errs, catalog.FieldError{Field: "columns", Message: fmt.Sprintf("at most %d columns", MaxColumns)})
	}
	seen := map[string]bool{}
	for i, c := range cols {
		f := fmt.Sprintf("columns[%d]", i)
		switch {
		case strings.TrimSpace(c.Name) == "":
			errs = append(errs, catalog.FieldError{Field: f + ".name", Message: "a column needs a name"})
		case len(c.Name) > 100:
			errs = append(errs, catalog.FieldError{Field: f + ".name", Message: "at most 100 characters"})
		case seen[c.Name]:
			errs = append(errs, catalog.FieldError{Field: f + ".name", Message: fmt.Sprintf("column %q is defined twice", c.Name)})
		}
		seen[c.Name] = true
		if !slices.Contains(Types, c.Type) {
			errs = append(errs, catalog.FieldError{Field: f + ".type", Message: fmt.Sprintf("unknown type %q; use one of %s", c.Type, strings.Join(Types, ", "))})
		}
	}
	return errs
}

// Validate checks values written to a table (by the API) against its columns
// and returns them normalised: numbers as float64, date-times as RFC 3339 UTC
// strings. null clears a cell. Errors name field+".<column>".
func Validate(cols []store.Column, values map[string]any, field string) (map[string]any, []catalog.FieldError) {
	out := make(map[string]any, len(values))
	var errs []catalog.FieldError
	for name, v := range values {
		i := slices.IndexFunc(cols, func(c store.Column) bool { return c.Name == name })
		if i < 0 {
			errs = append(errs, catalog.FieldError{Field: field + "." + name, Message: "no such column; add it to the table first"})
			continue
		}
		nv, err := check(cols[i].Type, v)
		if err != nil {
			errs = append(errs, catalog.FieldError{Field: field + "." + name, Message: err.Error()})
			continue
		}
		out[name] = nv
	}
	slices.SortFunc(errs, func(a, b catalog.FieldError) int { return strings.Compare(a.Field, b.Field) })
	return out, errs
}

// check is strict: JSON types must match the column type.
func check(typ string, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch typ {
	case Text:
		if s, ok := v.(string); ok {
			return s, nil
		}
		return nil, fmt.Errorf("must be a string (text column)")
	case Number:
		if f, ok := v.(float64); ok && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return f, nil
		}
		return nil, fmt.Errorf("must be a number (number column)")
	case Boolean:
		if b, ok := v.(bool); ok {
			return b, nil
		}
		return nil, fmt.Errorf("must be true or false (boolean column)")
	case DateTime:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("must be an RFC 3339 date-time string such as 2026-01-31T09:00:00Z (datetime column)")
		}
		t, err := ParseTime(s)
		if err != nil {
			return nil, fmt.Errorf("must be an RFC 3339 date-time such as 2026-01-31T09:00:00Z or a date 2026-01-31 (datetime column)")
		}
		return FormatTime(t), nil
	case JSON:
		return v, nil
	}
	return nil, fmt.Errorf("the column has an unknown type %q", typ)
}

// Convert turns a provider's value (providers such as HubSpot send every
// property as a string) into a value of a column type. Empty becomes null.
func Convert(typ string, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	s, isString := v.(string)
	if isString && s == "" && typ != Text {
		return nil, nil
	}
	if !isString {
		return check(typ, normalise(v))
	}
	switch typ {
	case Text, "":
		return s, nil
	case Number:
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, fmt.Errorf("%q is not a number", s)
		}
		return f, nil
	case Boolean:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("%q is not true or false", s)
		}
		return b, nil
	case DateTime:
		t, err := ParseTime(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not a date-time", s)
		}
		return FormatTime(t), nil
	case JSON:
		var out any
		if json.Unmarshal([]byte(s), &out) == nil {
			return out, nil
		}
		return s, nil
	}
	return nil, fmt.Errorf("unknown column type %q", typ)
}

func normalise(v any) any {
	switch v := v.(type) {
	case int:
		return float64(v)
	case int64:
		return float64(v)
	case json.Number:
		f, _ := v.Float64()
		return f
	case time.Time:
		return FormatTime(v)
	}
	return v
}

// Render gives a cell value as the provider-neutral text that connectors
// send (numbers without exponent, date-times in RFC 3339, JSON encoded);
// null is "".
func Render(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	case time.Time:
		return FormatTime(v)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// ParseTime reads RFC 3339, a date (midnight UTC) or epoch milliseconds.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms).UTC(), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date-time", s)
}

// FormatTime is how date-time cells are stored.
func FormatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// Service writes tables and rows on behalf of API callers.
type Service struct {
	Store *store.Store
	// RowsChanged is told which table's rows changed (outbound realtime syncs
	// push them soon after). Optional.
	RowsChanged func(tableID string)
}

// Create makes a table.
func (s *Service) Create(ctx context.Context, ws *store.Workspace, name string, cols []store.Column) (*store.Table, error) {
	var errs []catalog.FieldError
	if strings.TrimSpace(name) == "" {
		errs = append(errs, catalog.FieldError{Field: "name", Message: "a table needs a name"})
	}
	errs = append(errs, ValidateColumns(cols)...)
	if len(errs) > 0 {
		return nil, &connection.ValidationError{Fields: errs}
	}
	tb := &store.Table{WorkspaceID: ws.ID, Name: strings.TrimSpace(name), Columns: cols}
	if err := s.Store.InTx(ctx, func(tx *store.Tx) error { return tx.CreateTable(ctx, tb) }); err != nil {
		return nil, err
	}
	return tb, nil
}

// AddRows validates every row first and writes all of them or none.
func (s *Service) AddRows(ctx context.Context, ws *store.Workspace, tableID string, rows []map[string]any) ([]*store.Row, error) {
	tb, err := s.Store.GetTable(ctx, ws.ID, tableID)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 || len(rows) > MaxRowsPerAdd {
		return nil, &connection.ValidationError{Fields: []catalog.FieldError{{Field: "rows", Message: fmt.Sprintf("send from 1 to %d rows", MaxRowsPerAdd)}}}
	}
	out := make([]*store.Row, len(rows))
	var errs []catalog.FieldError
	for i, vals := range rows {
		nv, fe := Validate(tb.Columns, vals, fmt.Sprintf("rows[%d].values", i))
		errs = append(errs, fe...)
		out[i] = &store.Row{TableID: tb.ID, Values: dropNulls(nv)}
	}
	if len(errs) > 0 {
		return nil, &connection.ValidationError{Fields: errs}
	}
	err = s.Store.InTx(ctx, func(tx *store.Tx) error {
		for _, r := range out {
			if err := tx.InsertRow(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.changed(tb.ID)
	return out, nil
}

// PatchRow merges values into one row; null clears a cell.
func (s *Service) PatchRow(ctx context.Context, ws *store.Workspace, tableID, rowID string, values map[string]any) (*store.Row, error) {
	tb, err := s.Store.GetTable(ctx, ws.ID, tableID)
	if err != nil {
		return nil, err
	}
	nv, errs := Validate(tb.Columns, values, "values")
	if len(errs) > 0 {
		return nil, &connection.ValidationError{Fields: errs}
	}
	var row *store.Row
	changed := false
	err = s.Store.InTx(ctx, func(tx *store.Tx) error {
		row, err = tx.GetRow(ctx, tb.ID, rowID)
		if err != nil {
			return err
		}
		for k, v := range nv {
			if v == nil {
				delete(row.Values, k)
			} else {
				row.Values[k] = v
			}
		}
		if store.RowHash(row.Values) == row.Hash {
			return nil
		}
		changed = true
		return tx.UpdateRow(ctx, row)
	})
	if err != nil {
		return nil, err
	}
	if changed {
		s.changed(tb.ID)
	}
	return row, nil
}

func (s *Service) changed(tableID string) {
	if s.RowsChanged != nil {
		s.RowsChanged(tableID)
	}
}

func dropNulls(m map[string]any) map[string]any {
	for k, v := range m {
		if v == nil {
			delete(m, k)
		}
	}
	return m
}
