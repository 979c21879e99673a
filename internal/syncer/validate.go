package syncer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"patchbay/internal/catalog"
	"patchbay/internal/connection"
	"patchbay/internal/connector"
	"patchbay/internal/filter"
	"patchbay/internal/store"
)

// Prepare validates a sync against its workspace's connection and table and
// the provider's catalog entry, fills in defaults, and reports every problem
// at once as a *connection.ValidationError. It never calls the provider (it
// may run in a transaction): call WarmSchema first.
func (e *Engine) Prepare(ctx context.Context, ws *store.Workspace, y *store.Sync) error {
	var errs []catalog.FieldError
	bad := func(field, format string, args ...any) {
		errs = append(errs, catalog.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if y.Direction != Inbound && y.Direction != Outbound {
		bad("direction", "use inbound (provider → table) or outbound (table → provider)")
	}
	if y.Mode == "" {
		y.Mode = Incremental
	}
	if y.Mode != Incremental && y.Mode != Full {
		bad("mode", "use incremental or full")
	}
	if y.Schedule == "" {
		y.Schedule = "manual"
	}
	if y.Schedule == "every" || y.Schedule == "every:" {
		y.Schedule = "every:" + e.cfg.DefaultInterval.String()
	}
	if _, err := ParseSchedule(y.Schedule, e.cfg.DefaultInterval); err != nil {
		bad("schedule", "%s", err.Error())
	}
	if y.MaxRecords < 0 {
		bad("max_records", "must be 0 (no limit) or more")
	}
	var obj *connector.SchemaObject // the object as the connection's schema describes it
	var cobj *catalog.Object        // its catalog entry, when the catalog lists it
	c, err := e.cfg.Store.GetConnection(ctx, ws.ID, y.ConnectionID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		bad("connection_id", "no connection %q in this workspace", y.ConnectionID)
	case err != nil:
		return err
	default:
		p, ok := e.Catalog().Get(c.Provider)
		if !ok {
			bad("connection_id", "the connection's provider %q is no longer offered", c.Provider)
			break
		}
		sc, err := e.schema(ctx, c, false) // WarmSchema fetched it, outside any transaction

		if err != nil {
			return err
		}
		if o, ok := schemaObject(sc, y.Object); ok {
			y.Object, obj = o.Name, o
		} else {
			bad("object", "%s offers no object %q; choose one of %s", p.Name, y.Object, strings.Join(objectNames(sc), ", "))
		}
		cobj = catalogObject(p, y.Object)
		if cobj != nil && cobj.WriteOnly && y.Direction == Inbound {
			bad("direction", "%s %s can only receive rows; use direction outbound", p.Name, y.Object)
		}
	}
	var cols []store.Column
	tb, err := e.cfg.Store.GetTable(ctx, ws.ID, y.TableID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		bad("table_id", "no table %q in this workspace", y.TableID)
	case err != nil:
		return err
	default:
		cols = tb.Columns
	}
	if expr, err := filter.Parse(y.Filter); err != nil {
		bad("filter", "%s", err.Error())
	} else if expr != nil && y.Direction == Outbound {
		bad("filter", "outbound syncs push every changed row; filters apply to inbound syncs")
	} else if obj != nil {
		for _, f := range filter.Fields(expr) {
			if _, ok := obj.Field(f); !ok {
				bad("filter", "%s", unknownField(y.Object, f, obj))
			}
		}
	}
	if len(y.Mapping) == 0 {
		bad("mapping", "map at least one field: [{\"source\": …, \"target\": …}]")
	}
	hasCol := func(n string) bool {
		return slices.ContainsFunc(cols, func(c store.Column) bool { return c.Name == n })
	}
	anyFields := cobj != nil && cobj.AnyFields
	targets := map[string]bool{}
	for i, m := range y.Mapping {
		f := fmt.Sprintf("mapping[%d]", i)
		if targets[m.Target] {
			bad(f+".target", "%q is mapped twice", m.Target)
		}
		targets[m.Target] = true
		if y.Direction == Inbound {
			if _, ok := obj.Field(m.Source); obj != nil && !ok {
				bad(f+".source", "%s", unknownField(y.Object, m.Source, obj))
			}
			if tb != nil && !hasCol(m.Target) {
				bad(f+".target", "the table has no column %q; add it to the table first", m.Target)
			}
		} else {
			if tb != nil && !hasCol(m.Source) {
				bad(f+".source", "the table has no column %q", m.Source)
			}
			if fd, ok := obj.Field(m.Target); obj != nil && !anyFields && !ok {
				bad(f+".target", "%s", unknownField(y.Object, m.Target, obj))
			} else if ok && !fd.Writable {
				bad(f+".target", "%s is read-only at the provider; map the column to a field that can be written", fieldLabel(fd))
			}
		}
	}
	if y.Direction == Outbound {
		if y.MatchKey == "" {
			y.MatchKey = MatchExternalID
		}
		if obj != nil && y.MatchKey != MatchExternalID {
			keys := matchKeys(obj, cobj)
			if !slices.Contains(keys, y.MatchKey) {
				msg := fmt.Sprintf("%s records can be matched by %s", y.Object, strings.Join(append(keys, MatchExternalID), ", "))
				if near := connector.Closest(y.MatchKey, keys, 3); len(near) > 0 {
					msg += fmt.Sprintf("; did you mean %s?", strings.Join(quoteAll(near), ", "))
				}
				bad("match_key", "%s", msg)
			} else if !targets[y.MatchKey] {
				bad("match_key", "map a column to %s to match records by it", y.MatchKey)
			}
		}
	} else if y.MatchKey != "" {
		bad("match_key", "inbound rows are matched by the record's id; leave match_key empty")
	}
	if len(errs) > 0 {
		return &connection.ValidationError{Fields: errs}
	}
	return nil
}

// FirstRun is when a newly saved or resumed sync runs first: scheduled and
// realtime syncs start now, manual ones wait for Sync now.
func FirstRun(y *store.Sync, now time.Time) time.Time {
	if y.Schedule == "" || y.Schedule == "manual" {
		return time.Time{}
	}
	return now
}

// matchKeys are the fields an outbound sync may match records by: those the
// catalog names and those the provider says hold unique values.
func matchKeys(obj *connector.SchemaObject, cobj *catalog.Object) []string {
	var keys []string
	if cobj != nil {
		keys = append(keys, cobj.MatchFields...)
	}
	for _, f := range obj.Fields {
		if f.Unique && !slices.Contains(keys, f.Name) {
			keys = append(keys, f.Name)
		}
	}
	return keys
}

func fieldLabel(f *connector.SchemaField) string {
	if f.Label != "" && f.Label != f.Name {
		return fmt.Sprintf("%s (%s)", f.Label, f.Name)
	}
	return f.Name
}
