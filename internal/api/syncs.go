package api

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"patchbay/internal/catalog"
	"patchbay/internal/connection"
	"patchbay/internal/store"
	"patchbay/internal/syncer"
)

type syncBody struct {
	Direction    *string          `json:"direction"`
	ConnectionID *string          `json:"connection_id"`
	TableID      *string          `json:"table_id"`
	Object       *string          `json:"object"`
	Filter       *string          `json:"filter"`
	Mapping      *[]store.Mapping `json:"mapping"`
	MatchKey     *string          `json:"match_key"`
	Mode         *string          `json:"mode"`
	Schedule     *string          `json:"schedule"`
	MaxRecords   *int             `json:"max_records"`
	Paused       *bool            `json:"paused"`
}

// apply copies the given fields; it reports whether what is read changed
// (which restarts an inbound sync's read from the beginning).
func (b *syncBody) apply(y *store.Sync) (readChanged bool) {
	set := func(dst *string, src *string) {
		if src != nil && *dst != *src {
			*dst = *src
			readChanged = true
		}
	}
	set(&y.Direction, b.Direction)
	set(&y.ConnectionID, b.ConnectionID)
	set(&y.TableID, b.TableID)
	set(&y.Object, b.Object)
	set(&y.Filter, b.Filter)
	set(&y.Mode, b.Mode)
	if b.Mapping != nil {
		y.Mapping, readChanged = *b.Mapping, true
	}
	if b.MatchKey != nil {
		y.MatchKey = *b.MatchKey
	}
	if b.Schedule != nil {
		y.Schedule = *b.Schedule
	}
	if b.MaxRecords != nil {
		y.MaxRecords = *b.MaxRecords
	}
	return readChanged
}

func (h *Handler) syncFail(w http.ResponseWriter, r *http.Request, err error) {
	var pe *syncer.PausedError
	switch {
	case errors.Is(err, syncer.ErrBusy):
		writeProblem(w, Problem{Type: "/problems/sync-running", Title: "Sync running", Status: http.StatusConflict, Detail: err.Error()})
	case errors.As(err, &pe):
		writeProblem(w, Problem{Type: "/problems/sync-paused", Title: "Sync paused", Status: http.StatusConflict, Detail: pe.Error(), Reason: pe.Reason})
	default:
		h.fail(w, r, err)
	}
}

func (h *Handler) createSync(w http.ResponseWriter, r *http.Request, pr *Principal) {
	var body syncBody
	if err := decode(r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	y := &store.Sync{WorkspaceID: pr.Workspace.ID}
	body.apply(y)
	if body.Paused != nil && *body.Paused {
		y.Paused, y.PauseReason = true, connection.PauseUser
	}
	h.data.Syncs.WarmSchema(r.Context(), pr.Workspace, y.ConnectionID)
	if err := h.data.Syncs.Prepare(r.Context(), pr.Workspace, y); err != nil {
		h.fail(w, r, err)
		return
	}
	y.NextRunAt = syncer.FirstRun(y, h.now())
	if err := h.store.InTx(r.Context(), func(tx *store.Tx) error { return tx.CreateSync(r.Context(), y) }); err != nil {
		h.fail(w, r, err)
		return
	}
	h.dueNow(r, y)
	h.saved(r, y)
	writeJSON(w, http.StatusCreated, h.viewSyncOf(r.Context(), y))
}

func (h *Handler) listSyncs(w http.ResponseWriter, r *http.Request, pr *Principal) {
	ys, err := h.store.ListWorkspaceSyncs(r.Context(), pr.Workspace.ID)
	h.writeSyncs(w, r, ys, err)
}

func (h *Handler) tableSyncs(w http.ResponseWriter, r *http.Request, pr *Principal) {
	if _, err := h.store.GetTable(r.Context(), pr.Workspace.ID, r.PathValue("id")); err != nil {
		h.fail(w, r, err)
		return
	}
	ys, err := h.store.ListTableSyncs(r.Context(), pr.Workspace.ID, r.PathValue("id"))
	h.writeSyncs(w, r, ys, err)
}

func (h *Handler) writeSyncs(w http.ResponseWriter, r *http.Request, ys []*store.Sync, err error) {
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := []syncView{}
	for _, y := range ys {
		out = append(out, h.viewSyncOf(r.Context(), y))
	}
	writeJSON(w, http.StatusOK, map[string]any{"syncs": out})
}

func (h *Handler) getSync(w http.ResponseWriter, r *http.Request, pr *Principal) {
	y, err := h.store.GetSync(r.Context(), pr.Workspace.ID, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.viewSyncOf(r.Context(), y))
}

// patchSync edits a sync. paused:true pauses it as the user's decision
// (pause_reason "user"); paused:false resumes it, unless it waits for a
// reconnect, which only a reconnect lifts.
func (h *Handler) patchSync(w http.ResponseWriter, r *http.Request, pr *Principal) {
	var body syncBody
	if err := decode(r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	if cur, err := h.store.GetSync(r.Context(), pr.Workspace.ID, r.PathValue("id")); err == nil {
		// Prepare reads the schema inside the transaction; fetch it first.
		probe := *cur
		body.apply(&probe)
		h.data.Syncs.WarmSchema(r.Context(), pr.Workspace, probe.ConnectionID)
	}
	var y *store.Sync
	err := h.store.InTx(r.Context(), func(tx *store.Tx) error {
		var err error
		y, err = tx.GetSync(r.Context(), pr.Workspace.ID, r.PathValue("id"))
		if err != nil {
			return err
		}
		if err := h.checkMove(r, pr, y, &body); err != nil {
			return err
		}
		if body.apply(y) {
			y.Cursor = "" // what is read changed: read again from the start
		}
		if body.Paused != nil {
			switch {
			case *body.Paused && !y.Paused:
				y.Paused, y.PauseReason = true, connection.PauseUser
			case !*body.Paused && y.Paused && y.PauseReason != connection.PauseUser:
				return &syncer.PausedError{Reason: y.PauseReason}
			case !*body.Paused && y.Paused:
				y.Paused, y.PauseReason = false, ""
				y.NextRunAt = syncer.FirstRun(y, h.now())
			}
		}
		if err := h.data.Syncs.Prepare(r.Context(), pr.Workspace, y); err != nil {
			return err
		}
		if body.Schedule != nil && !y.Paused {
			y.NextRunAt = syncer.FirstRun(y, h.now())
		}
		return tx.UpdateSync(r.Context(), y)
	})
	if err != nil {
		h.syncFail(w, r, err)
		return
	}
	h.dueNow(r, y)
	h.saved(r, y)
	writeJSON(w, http.StatusOK, h.viewSyncOf(r.Context(), y))
}

// checkMove refuses the edits a sync cannot take, rather than answer 200
// for a change that is not made: a sync stays with its table (its rows'
// links and history are that table's), and moves only to a connection of
// the same provider (its object, mapping and match key are that provider's).
func (h *Handler) checkMove(r *http.Request, pr *Principal, y *store.Sync, body *syncBody) error {
	if body.TableID != nil && *body.TableID != y.TableID {
		return &connection.ValidationError{Fields: []catalog.FieldError{{Field: "table_id",
			Message: "a sync stays with its table; create a new sync for another table"}}}
	}
	if body.ConnectionID == nil || *body.ConnectionID == y.ConnectionID {
		return nil
	}
	from, err := h.store.GetConnection(r.Context(), pr.Workspace.ID, y.ConnectionID)
	if err != nil {
		return err
	}
	to, err := h.store.GetConnection(r.Context(), pr.Workspace.ID, *body.ConnectionID)
	if errors.Is(err, store.ErrNotFound) {
		return &connection.ValidationError{Fields: []catalog.FieldError{{Field: "connection_id",
			Message: fmt.Sprintf("no connection %q in this workspace", *body.ConnectionID)}}}
	}
	if err != nil {
		return err
	}
	if to.Provider != from.Provider {
		return &connection.ValidationError{Fields: []catalog.FieldError{{Field: "connection_id",
			Message: fmt.Sprintf("a sync moves only to another %s connection; %s is %s — create a new sync for it", from.Provider, to.ID, to.Provider)}}}
	}
	return nil
}

// dueNow tells DataDeps.DueNow about a saved sync that is due now.
func (h *Handler) dueNow(r *http.Request, y *store.Sync) {
	if h.data.DueNow != nil && !y.Paused && !y.NextRunAt.IsZero() && !y.NextRunAt.After(h.now()) {
		h.data.DueNow(r.Context(), y.ID)
	}
}

type runResult struct {
	runView
	DryRun    bool              `json:"dry_run,omitempty"`
	Plan      []syncer.PlanItem `json:"plan,omitempty"`
	ResumesAt *time.Time        `json:"resumes_at,omitempty"`
}

// runSync is Sync now: it runs the sync and answers with the finished run.
func (h *Handler) runSync(w http.ResponseWriter, r *http.Request, pr *Principal) {
	var body struct {
		DryRun bool `json:"dry_run"`
		// Changes, on a dry run, are unsaved edits (as PATCH takes them) to plan with.
		Changes *syncBody `json:"changes"`
	}
	if err := decode(r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	y, err := h.store.GetSync(r.Context(), pr.Workspace.ID, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	opts := syncer.Options{Trigger: syncer.TriggerManual, DryRun: body.DryRun}
	if body.Changes != nil {
		if !body.DryRun {
			h.fail(w, r, invalidField("changes", "unsaved changes can only be tried in a dry run; save them with PATCH first"))
			return
		}
		draft := *y
		body.Changes.apply(&draft)
		if err := h.data.Syncs.Prepare(r.Context(), pr.Workspace, &draft); err != nil {
			h.fail(w, r, err)
			return
		}
		opts.Draft = &draft
	}
	res, err := h.data.Syncs.Run(r.Context(), y.ID, opts)
	if err != nil {
		h.syncFail(w, r, err)
		return
	}
	out := runResult{runView: viewRun(res.Run), DryRun: body.DryRun, Plan: res.Plan, ResumesAt: tp(res.ResumesAt)}
	if body.DryRun {
		out.Status = "dry_run"
		if out.Plan == nil {
			out.Plan = []syncer.PlanItem{}
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) syncRuns(w http.ResponseWriter, r *http.Request, pr *Principal) {
	y, err := h.store.GetSync(r.Context(), pr.Workspace.ID, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	runs, err := h.store.ListRuns(r.Context(), pr.Workspace.ID, y.ID, "", 100)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := []runView{}
	for _, run := range runs {
		out = append(out, viewRun(run))
	}
	writeJSON(w, http.StatusOK, map[string]any{"runs": out})
}

func (h *Handler) getRun(w http.ResponseWriter, r *http.Request, pr *Principal) {
	run, err := h.store.GetRun(r.Context(), pr.Workspace.ID, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewRun(run))
}
