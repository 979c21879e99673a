package syncer

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"patchbay/internal/connector"
	"patchbay/internal/filter"
	"patchbay/internal/store"
	"patchbay/internal/tables"
)

// overlap is how far back an incremental pass starts before the previous
// one: records changed while a pass ran (it pages in id order on the first
// pass) are read again by the next one, which upserts absorb.
const overlap = 5 * time.Minute

// inbound pages through the object's records into the table. Each page and
// the position after it are committed in one transaction, so a run that
// stops anywhere resumes after the last committed page.
func (r *run) inbound(ctx context.Context) error {
	run := r.res.Run
	tb, err := r.e.cfg.Store.TableByID(ctx, r.y.TableID)
	if err != nil {
		return err
	}
	expr, err := parseFilter(r.y)
	if err != nil {
		return err
	}
	sess, conn, p, err := r.session(ctx)
	if err != nil {
		return err
	}
	if err := r.checkSchema(ctx, conn, sess); err != nil {
		return err
	}
	st := loadState(r.y)
	if st.Cursor == "" {
		st.Started, st.HighWater, st.Pages = r.e.cfg.Now().UTC(), time.Time{}, 0
		if r.y.Mode == Full {
			st.Gen = store.NewID("gen")
		}
	}
	push, local := filter.Plan(expr)
	if f, ok := conn.(connector.Filterer); !ok || !f.CanFilter(r.y.Object, push) {
		push, local = nil, expr != nil
	}
	st.Filtered = filter.Describe(push)
	fields := make([]string, 0, len(r.y.Mapping))
	for _, m := range r.y.Mapping {
		fields = append(fields, m.Source)
	}
	for _, f := range filter.Fields(expr) {
		if !slices.Contains(fields, f) {
			fields = append(fields, f)
		}
	}
	pageSize := p.PageSize
	if r.e.cfg.PageSize > 0 {
		pageSize = r.e.cfg.PageSize
	}
	req := connector.ListRequest{Object: r.y.Object, Fields: fields, Filter: push, Limit: pageSize}
	if r.y.Mode != Full {
		req.Since = st.Since
	}
	cols := map[string]string{}
	for _, c := range tb.Columns {
		cols[c.Name] = c.Type
	}
	for {
		if r.y.MaxRecords > 0 && run.Read >= r.y.MaxRecords {
			r.res.Note = fmt.Sprintf("stopped at the data limit of %d records per run; the next run continues where this one stopped", r.y.MaxRecords)
			return nil
		}
		req.Cursor = st.Cursor
		if r.y.MaxRecords > 0 {
			req.Limit = min(max(pageSize, 1), r.y.MaxRecords-run.Read)
		}
		page, err := conn.List(ctx, sess, req)
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err // nothing of this page is committed; the next run reads it again
		}
		if err := r.storePage(ctx, cols, expr, local, page, &st); err != nil {
			return err
		}
		if page.Next == "" {
			return nil
		}
	}
}

// storePage upserts one page and saves the position after it, atomically.
func (r *run) storePage(ctx context.Context, cols map[string]string, expr filter.Expr, local bool, page connector.Page, st *inboundState) error {
	run := r.res.Run
	counts := *run
	var rowErrs []store.RowError
	changed := false
	next := *st
	mapped := mappingKey(r.y.Mapping, cols)
	err := r.e.cfg.Store.InTx(ctx, func(tx *store.Tx) error {
		counts, rowErrs, changed, next = *run, nil, false, *st
		if err := r.fence(ctx, tx); err != nil {
			return err
		}
		ids := make([]string, 0, len(page.Records))
		for _, rec := range page.Records {
			ids = append(ids, rec.ID)
		}
		existing, err := tx.RowsByExternalID(ctx, r.y.TableID, r.y.ConnectionID, r.y.Object, ids)
		if err != nil {
			return err
		}
		for _, rec := range page.Records {
			counts.Read++
			if rec.UpdatedAt.After(next.HighWater) {
				next.HighWater = rec.UpdatedAt
			}
			if local && !filter.Match(expr, rec.Fields) {
				continue
			}
			vals, convErrs := mapInbound(r.y.Mapping, cols, r.obj, rec.Fields)
			for _, ce := range convErrs {
				counts.Failed++
				if len(run.RowErrors)+len(rowErrs) < r.e.cfg.RowErrorSamples {
					rowErrs = append(rowErrs, store.RowError{ExternalID: rec.ID, Message: ce.Error()})
				}
			}
			remote := renderFields(rec.Fields)
			src := &store.Source{TableID: r.y.TableID, ConnectionID: r.y.ConnectionID, Object: r.y.Object, ExternalID: rec.ID,
				Remote: remote, SeenGen: next.Gen}
			if ex, ok := existing[rec.ID]; ok {
				row := ex.Row
				wasDeleted := !row.DeletedAt.IsZero()
				src.RowID, src.PushedHash, src.PushedAt = row.ID, ex.Source.PushedHash, ex.Source.PushedAt
				if maps.Equal(ex.Source.Remote, remote) && ex.Source.DeletedAt.IsZero() && !wasDeleted && next.Mapped == mapped {
					// Read before with the same values (an incremental pass
					// overlaps the last one; a webhook and a poll meet): what
					// the row holds now, an edit or an enrichment, stands.
					counts.Unchanged++
					if ex.Source.SeenGen == next.Gen {
						continue
					}
					if err := tx.PutSource(ctx, src); err != nil { // seen in this full-refresh pass
						return err
					}
					continue
				}
				for k, v := range vals {
					if v == nil {
						delete(row.Values, k)
					} else {
						row.Values[k] = v
					}
				}
				row.DeletedAt = time.Time{}
				if store.RowHash(row.Values) != row.Hash || wasDeleted {
					if err := tx.UpdateRow(ctx, row); err != nil {
						return err
					}
					counts.Updated++
					changed = true
				} else {
					counts.Unchanged++
				}
			} else {
				row := &store.Row{TableID: r.y.TableID, Values: vals}
				for k, v := range row.Values {
					if v == nil {
						delete(row.Values, k)
					}
				}
				if err := tx.UpsertOriginRow(ctx, row, r.y.ConnectionID, r.y.Object, rec.ID); err != nil {
					return err
				}
				src.RowID = row.ID
				counts.Created++
				changed = true
			}
			if err := tx.PutSource(ctx, src); err != nil {
				return err
			}
		}
		next.Cursor = page.Next
		next.Pages++
		if page.Next == "" {
			if err := r.endPass(ctx, tx, &next, &counts, &changed); err != nil {
				return err
			}
			next.Mapped = mapped
		}
		return tx.SetSyncCursor(ctx, r.y.ID, next.text())
	})
	if err != nil {
		return fmt.Errorf("store page: %w", err)
	}
	*run = counts
	run.RowErrors = append(run.RowErrors, rowErrs...)
	*st = next
	r.changed = r.changed || changed
	return nil
}

// endPass closes a pass: an incremental sync moves its high-water mark, a
// full refresh marks the records it did not see as deleted at the source.
func (r *run) endPass(ctx context.Context, tx *store.Tx, st *inboundState, counts *store.Run, changed *bool) error {
	now := r.e.cfg.Now().UTC()
	if r.y.Mode == Full {
		n, err := tx.SweepSources(ctx, r.y.TableID, r.y.ConnectionID, r.y.Object, st.Gen)
		if err != nil {
			return err
		}
		if n > 0 {
			*changed = true
			r.res.Note = fmt.Sprintf("%d records were deleted at the source (or left the filter); their rows are marked deleted", n)
		}
		st.Gen = ""
	} else if !st.HighWater.IsZero() {
		since := st.HighWater
		if floor := st.Started.Add(-overlap); floor.Before(since) {
			since = floor
		}
		if since.After(st.Since) {
			st.Since = since
		}
	}
	st.Cursor, st.HighWater, st.Completed = "", time.Time{}, now
	return nil
}

// mappingKey names a mapping and the types of its target columns.
func mappingKey(mapping []store.Mapping, cols map[string]string) string {
	var b strings.Builder
	for _, m := range mapping {
		fmt.Fprintf(&b, "%s>%s:%s;", m.Source, m.Target, cols[m.Target])
	}
	return b.String()
}

// mapInbound turns a record's fields into column values. A value that does
// not convert to its column's type is left out and reported.
func mapInbound(mapping []store.Mapping, cols map[string]string, obj *connector.SchemaObject, fields map[string]any) (map[string]any, []error) {
	out := make(map[string]any, len(mapping))
	var errs []error
	for _, m := range mapping {
		raw, ok := fields[m.Source]
		if !ok {
			continue // not sent: keep what the row has
		}
		if f, ok := obj.Field(m.Source); ok {
			raw = f.FromProvider(raw)
		}
		v, err := tables.Convert(cols[m.Target], raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s → %s: %w", m.Source, m.Target, err))
			continue
		}
		out[m.Target] = v
	}
	return out, errs
}

func renderFields(fields map[string]any) map[string]string {
	out := make(map[string]string, len(fields))
	for k, v := range fields {
		out[k] = tables.Render(v)
	}
	return out
}
