package enrich

import (
	"context"
	"slices"

	"patchbay/internal/connection"
	"patchbay/internal/store"
)

// TriggerEdited is the run queued when an action column's lookup changed.
const TriggerEdited = "edited"

// UpdateColumn changes an action column's lookup, providers, mapping and run
// condition, with the checks of CreateColumn; its name stays (cells and
// outputs refer to it). Every row is looked up again: answers still cached
// cost no lookup. A stopped column starts again.
func (s *Service) UpdateColumn(ctx context.Context, ws *store.Workspace, tableID, idOrName string, spec store.ActionSpec) (*store.ActionColumn, error) {
	a, err := s.Column(ctx, ws, tableID, idOrName)
	if err != nil {
		return nil, err
	}
	tb, err := s.cfg.Store.GetTable(ctx, ws.ID, tableID)
	if err != nil {
		return nil, err
	}
	existing, err := s.cfg.Store.ActionColumns(ctx, tb.ID)
	if err != nil {
		return nil, err
	}
	existing = slices.DeleteFunc(existing, func(o *store.ActionColumn) bool { return o.ID == a.ID })
	req := ColumnRequest{Name: a.Name, Spec: spec}
	cols, errs := s.validate(ctx, ws, tb, existing, &req)
	if len(errs) > 0 {
		return nil, &connection.ValidationError{Fields: errs}
	}
	a.Spec, a.Status, a.StatusReason, a.StatusDetail = req.Spec, StatusActive, "", ""
	err = s.cfg.Store.InTx(ctx, func(tx *store.Tx) error {
		if len(cols) != len(tb.Columns) {
			if err := tx.SetTableColumns(ctx, tb.ID, cols); err != nil {
				return err
			}
		}
		return tx.UpdateActionColumn(ctx, a)
	})
	if err != nil {
		return nil, err
	}
	if _, err := s.queue(ctx, a, TriggerEdited, OnlyAll); err != nil {
		return nil, err
	}
	return a, nil
}
