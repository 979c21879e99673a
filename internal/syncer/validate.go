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
	"patchbay/internal/filter"
	"patchbay/internal/store"
)

// Prepare validates a sync against its workspace's connection and table and
// the provider's catalog entry, fills in defaults, and reports every problem
// at once as a *connection.ValidationError.
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
	var obj *catalog.Object
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
		names := make([]string, 0, len(p.Objects))
		for i := range p.Objects {
			names = append(names, p.Objects[i].Name)
			if p.Objects[i].Name == y.Object {
				obj = &p.Objects[i]
			}
		}
		if obj == nil {
			bad("object", "%s offers no object %q; choose one of %s", p.Name, y.Object, strings.Join(names, ", "))
		}
		if obj != nil && obj.WriteOnly && y.Direction == Inbound {
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
			if !slices.Contains(obj.Fields, f) {
				bad("filter", "%s has no field %q; fields: %s", y.Object, f, strings.Join(obj.Fields, ", "))
			}
		}
	}
	if len(y.Mapping) == 0 {
		bad("mapping", "map at least one field: [{\"source\": …, \"target\": …}]")
	}
	hasCol := func(n string) bool {
		return slices.ContainsFunc(cols, func(c store.Column) bool { return c.Name == n })
	}
	hasField := func(n string) bool { return obj != nil && slices.Contains(obj.Fields, n) }
	targets := map[string]bool{}
	for i, m := range y.Mapping {
		f := fmt.Sprintf("mapping[%d]", i)
		if targets[m.Target] {
			bad(f+".target", "%q is mapped twice", m.Target)
		}
		targets[m.Target] = true
		if y.Direction == Inbound {
			if obj != nil && !hasField(m.Source) {
				bad(f+".source", "%s has no field %q; fields: %s", y.Object, m.Source, strings.Join(obj.Fields, ", "))
			}
			if tb != nil && !hasCol(m.Target) {
				bad(f+".target", "the table has no column %q; add it to the table first", m.Target)
			}
		} else {
			if tb != nil && !hasCol(m.Source) {
				bad(f+".source", "the table has no column %q", m.Source)
			}
			if obj != nil && !obj.AnyFields && !hasField(m.Target) {
				bad(f+".target", "%s has no field %q; fields: %s", y.Object, m.Target, strings.Join(obj.Fields, ", "))
			}
		}
	}
	if y.Direction == Outbound {
		if y.MatchKey == "" {
			y.MatchKey = MatchExternalID
		}
		if obj != nil && y.MatchKey != MatchExternalID {
			if !slices.Contains(obj.MatchFields, y.MatchKey) {
				bad("match_key", "%s records can be matched by %s or %s", y.Object, strings.Join(obj.MatchFields, ", "), MatchExternalID)
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
