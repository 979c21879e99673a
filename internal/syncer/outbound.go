package syncer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	"patchbay/internal/connector"
	"patchbay/internal/store"
	"patchbay/internal/tables"
)

// MatchExternalID is the match key that updates the record a row came from
// (or was pushed to) and creates the others.
const MatchExternalID = "external_id"

// outboundItem is one row on its way to the provider.
type outboundItem struct {
	row    *store.Row
	link   *store.Source
	hash   string
	fields map[string]any // what to send, as text
	send   map[string]any // the same converted to the provider's field types
}

// outbound pushes the table's rows that changed since their last successful
// push, in the provider's batch size. Rows stream by keyset pages; nothing
// holds the whole table.
func (r *run) outbound(ctx context.Context) error {
	run := r.res.Run
	sess, conn, p, err := r.session(ctx)
	if err != nil {
		return err
	}
	if err := r.checkSchema(ctx, conn, sess); err != nil {
		return err
	}
	batch := p.BatchSize
	if batch <= 0 {
		batch = 100
	}
	matchField := r.y.MatchKey
	if matchField == MatchExternalID {
		matchField = ""
	}
	after := ""
	for {
		rows, err := r.e.cfg.Store.ListRows(ctx, r.y.TableID, after, batch, false)
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			return nil
		}
		after = rows[len(rows)-1].ID
		ids := make([]string, len(rows))
		for i, row := range rows {
			ids[i] = row.ID
		}
		links, err := r.e.cfg.Store.SourcesOfRows(ctx, r.y.TableID, r.y.ConnectionID, r.y.Object, ids)
		if err != nil {
			return err
		}
		var send []outboundItem
		var settle []outboundItem // unchanged at the provider: remember the hash so the next run skips them fast
		for _, row := range rows {
			run.Read++
			it := outboundItem{row: row, link: links[row.ID]}
			desired := r.desired(row)
			it.hash = hashFields(desired)
			if it.link != nil && !it.link.DeletedAt.IsZero() {
				it.link = nil // the record is gone at the source: create (or match) it again
			}
			if it.link != nil && it.link.PushedHash == it.hash {
				run.Unchanged++
				r.plan(PlanItem{RowID: row.ID, Action: "unchanged", ExternalID: it.link.ExternalID})
				continue
			}
			it.fields = r.diff(desired, it.link)
			if len(it.fields) == 0 {
				run.Unchanged++
				r.plan(PlanItem{RowID: row.ID, Action: "unchanged", ExternalID: extID(it.link)})
				if it.link != nil {
					settle = append(settle, it)
				}
				continue
			}
			if it.link == nil && matchField != "" {
				mv, _ := desired[matchField].(string)
				if mv == "" {
					err := fmt.Errorf("the row has no %s to match a %s record with; map a column to %s or fill it in", matchField, r.y.Object, matchField)
					r.rowError(row.ID, "", err)
					r.plan(PlanItem{RowID: row.ID, Action: "error", Error: err.Error()})
					continue
				}
				it.fields[matchField] = mv
			}
			if it.send, err = r.convertOut(it.fields); err != nil {
				r.rowError(row.ID, extID(it.link), err)
				r.plan(PlanItem{RowID: row.ID, Action: "error", ExternalID: extID(it.link), Error: err.Error()})
				continue
			}
			if r.o.DryRun {
				item := PlanItem{RowID: row.ID, Fields: renderFields(it.fields)}
				switch {
				case it.link != nil:
					item.Action, item.ExternalID = "update", it.link.ExternalID
					run.Updated++
				case matchField != "":
					item.Action, item.MatchBy = "create", matchField
					run.Created++
				default:
					item.Action = "create"
					run.Created++
				}
				r.plan(item)
				continue
			}
			send = append(send, it)
		}
		if err := r.settle(ctx, settle); err != nil {
			return err
		}
		if len(send) > 0 {
			if err := r.write(ctx, conn, sess, matchField, send); err != nil {
				return err
			}
		}
		if len(rows) < batch {
			return nil
		}
	}
}

func extID(s *store.Source) string {
	if s == nil {
		return ""
	}
	return s.ExternalID
}

func (r *run) plan(it PlanItem) {
	if r.o.DryRun && len(r.res.Plan) < maxPlanItems {
		r.res.Plan = append(r.res.Plan, it)
	}
}

// desired is what the mapping makes of a row: provider field → text ("" for empty).
func (r *run) desired(row *store.Row) map[string]any {
	out := make(map[string]any, len(r.y.Mapping))
	for _, m := range r.y.Mapping {
		out[m.Target] = tables.Render(row.Values[m.Source])
	}
	return out
}

// diff keeps the fields worth sending: empty values only where the mapping
// allows overwriting with empty (null protection), and only values the
// provider does not hold already as far as Patchbay knows (a value that came
// from the provider, or that Patchbay pushed and read back, is not sent again).
func (r *run) diff(desired map[string]any, link *store.Source) map[string]any {
	out := map[string]any{}
	for _, m := range r.y.Mapping {
		v := desired[m.Target].(string)
		if v == "" && !m.OverwriteEmpty {
			continue
		}
		if link != nil {
			if have, ok := link.Remote[m.Target]; ok && have == v {
				continue
			}
			if _, ok := link.Remote[m.Target]; !ok && v == "" {
				continue // clearing what is not there
			}
		}
		out[m.Target] = v
	}
	return out
}

func hashFields(fields map[string]any) string {
	b, _ := json.Marshal(fields)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// settle records that rows already match the provider.
func (r *run) settle(ctx context.Context, items []outboundItem) error {
	if len(items) == 0 || r.o.DryRun {
		return nil
	}
	return r.e.cfg.Store.InTx(ctx, func(tx *store.Tx) error {
		if err := r.fence(ctx, tx); err != nil {
			return err
		}
		for _, it := range items {
			src := *it.link
			src.PushedHash = it.hash
			if err := tx.PutSource(ctx, &src); err != nil {
				return err
			}
		}
		return nil
	})
}

// write sends one batch and records each row's outcome: a successful row
// remembers what the provider now holds; a failed row is a row error, and
// the run goes on. A failure of the connection (auth, outage, rate limit)
// ends the run after recording what succeeded.
func (r *run) write(ctx context.Context, conn connector.Connector, sess connector.Session, matchField string, items []outboundItem) error {
	run := r.res.Run
	req := connector.WriteRequest{Object: r.y.Object, MatchField: matchField, Records: make([]connector.Record, len(items)),
		Table: r.y.TableID, RowIDs: make([]string, len(items))}
	for i, it := range items {
		req.Records[i] = connector.Record{ID: extID(it.link), Fields: it.send}
		req.RowIDs[i] = it.row.ID
	}
	results, werr := conn.Write(ctx, sess, req)
	if werr != nil && len(results) == 0 {
		return werr
	}
	now := r.e.cfg.Now().UTC()
	done := make([]bool, len(items))
	err := r.e.cfg.Store.InTx(context.WithoutCancel(ctx), func(tx *store.Tx) error {
		for _, res := range results {
			if res.Index < 0 || res.Index >= len(items) || done[res.Index] {
				continue
			}
			it := items[res.Index]
			if res.Err != nil || res.ID == "" {
				continue
			}
			done[res.Index] = true
			src := &store.Source{TableID: r.y.TableID, RowID: it.row.ID, ConnectionID: r.y.ConnectionID, Object: r.y.Object,
				ExternalID: res.ID, Remote: map[string]string{}}
			if it.link != nil && it.link.ExternalID == res.ID {
				src = it.link
			}
			src.Remote = maps.Clone(src.Remote)
			if src.Remote == nil {
				src.Remote = map[string]string{}
			}
			for k, v := range it.fields {
				src.Remote[k] = v.(string)
			}
			src.PushedHash, src.PushedAt, src.DeletedAt = it.hash, now, time.Time{}
			if err := tx.PutSource(ctx, src); err != nil {
				return err
			}
			if res.Created {
				run.Created++
			} else {
				run.Updated++
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record pushed rows: %w", err)
	}
	for _, res := range results {
		if res.Index >= 0 && res.Index < len(items) && res.Err != nil && !done[res.Index] {
			r.rowError(items[res.Index].row.ID, extID(items[res.Index].link), res.Err)
			done[res.Index] = true
		}
	}
	if werr != nil {
		return werr
	}
	for i, ok := range done {
		if !ok {
			r.rowError(items[i].row.ID, extID(items[i].link), errors.New("the provider did not report the outcome of this row"))
		}
	}
	return nil
}

// convertOut converts a row's text values to the types of the provider's
// fields; a value that does not fit fails the row, naming field and value.
func (r *run) convertOut(fields map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(fields))
	for k, v := range fields {
		f, ok := r.obj.Field(k)
		if !ok {
			out[k] = v
			continue
		}
		cv, err := f.ToProvider(v)
		if err != nil {
			return nil, err
		}
		out[k] = cv
	}
	return out, nil
}
