package api

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"patchbay/internal/catalog"
	"patchbay/internal/connection"
	"patchbay/internal/enrich"
	"patchbay/internal/store"
	"patchbay/internal/tables"
)

// SetEnrich wires the action column routes; call it before Register.
func (h *Handler) SetEnrich(e *enrich.Service) { h.enrich = e }

func (h *Handler) registerEnrich(api route) {
	if h.enrich == nil {
		return
	}
	api("GET /api/v1/tables/{id}/columns", h.listColumns)
	api("POST /api/v1/tables/{id}/columns", h.addColumn)
	api("GET /api/v1/tables/{id}/columns/{col}", h.getColumn)
	api("PATCH /api/v1/tables/{id}/columns/{col}", h.patchColumn)
	api("DELETE /api/v1/tables/{id}/columns/{col}", h.deleteColumn)
	api("POST /api/v1/tables/{id}/columns/{col}/run", h.runColumn)
	api("GET /api/v1/tables/{id}/columns/{col}/runs", h.columnRuns)
	api("GET /api/v1/tables/{id}/columns/{col}/runs/{run}", h.columnRun)
	api("GET /api/v1/tables/{id}/enrichment", h.getEnrichment)
	api("PATCH /api/v1/tables/{id}/enrichment", h.patchEnrichment)
}

type actionView struct {
	ConnectionIDs []string          `json:"connection_ids"`
	Lookup        string            `json:"lookup"`
	Inputs        map[string]string `json:"inputs"`
	Outputs       map[string]string `json:"outputs"`
	RunIf         *store.RunIf      `json:"run_if,omitempty"`
}

type actionColumnView struct {
	ID           string          `json:"id"`
	Name         string          `json:"name"`
	Type         string          `json:"type"`
	Action       actionView      `json:"action"`
	Status       string          `json:"status"` // active, stopped, budget_exhausted
	StatusReason string          `json:"status_reason,omitempty"`
	StatusDetail string          `json:"status_detail,omitempty"`
	Cells        map[string]int  `json:"cells,omitempty"`
	Stats        store.RunCounts `json:"stats"`
	CreatedAt    time.Time       `json:"created_at"`
}

type enrichRunView struct {
	ID        string    `json:"id"`
	ColumnID  string    `json:"column_id"`
	Trigger   string    `json:"trigger"`
	Only      string    `json:"only"`
	CreatedAt time.Time `json:"created_at"`
	store.RunCounts
}

func viewEnrichRun(r *store.EnrichRun) enrichRunView {
	return enrichRunView{ID: r.ID, ColumnID: r.ColumnID, Trigger: r.Trigger, Only: r.Only, CreatedAt: r.CreatedAt, RunCounts: r.Counts}
}

// cellView is a cell's state in GET /tables/{id}/rows, beside the row's values.
type cellView struct {
	State     string     `json:"state"`
	Reason    string     `json:"reason,omitempty"`
	Message   string     `json:"message,omitempty"`
	Provider  string     `json:"provider,omitempty"`
	Via       string     `json:"via,omitempty"`
	Attempts  int        `json:"attempts,omitempty"`
	RetryAt   *time.Time `json:"retry_at,omitempty"`
	UpdatedAt time.Time  `json:"updated_at"`
}

// cellMap is a row's cells by action column name.
type cellMap = map[string]cellView

// rowCells returns the cells of rows keyed by row id, then action column
// name; nil when enrichment is not wired.
func (h *Handler) rowCells(ctx context.Context, rowIDs []string) (map[string]cellMap, error) {
	if h.enrich == nil {
		return nil, nil
	}
	cells, err := h.store.CellsOfRows(ctx, rowIDs)
	if err != nil {
		return nil, err
	}
	out := make(map[string]cellMap, len(cells))
	for rowID, cs := range cells {
		m := make(map[string]cellView, len(cs))
		for _, c := range cs {
			v := cellView{State: c.State, Reason: c.Reason, Message: c.Message, Provider: c.Provider, Via: c.Via, Attempts: c.Attempts, UpdatedAt: c.UpdatedAt}
			if c.State == store.CellFailed {
				v.RetryAt = tp(c.DueAt)
			}
			m[c.Column] = v
		}
		out[rowID] = m
	}
	return out, nil
}

func (h *Handler) viewActionColumn(ctx context.Context, a *store.ActionColumn) (actionColumnView, error) {
	v := actionColumnView{ID: a.ID, Name: a.Name, Type: "action", Status: a.Status, StatusReason: a.StatusReason, StatusDetail: a.StatusDetail,
		CreatedAt: a.CreatedAt, Action: actionView{ConnectionIDs: a.Spec.ConnectionIDs, Lookup: a.Spec.Lookup, Inputs: a.Spec.Inputs, Outputs: a.Spec.Outputs}}
	if a.Spec.RunIf != (store.RunIf{}) {
		v.Action.RunIf = &a.Spec.RunIf
	}
	counts, err := h.store.CellCounts(ctx, a.ID)
	if err != nil {
		return v, err
	}
	v.Cells = counts
	if v.Stats, err = h.store.TotalRunCounts(ctx, a.ID); err != nil {
		return v, err
	}
	if a.Status == enrich.StatusActive && counts[store.CellPending] > 0 {
		es, err := h.store.GetEnrichSettings(ctx, a.TableID)
		if err != nil {
			return v, err
		}
		if es.DailyBudget > 0 && es.Day == h.now().UTC().Format(time.DateOnly) && es.Used >= es.DailyBudget {
			v.Status, v.StatusReason = "budget_exhausted", enrich.ReasonBudget
			v.StatusDetail = "the table's daily lookup budget is spent; pending cells wait for the next UTC day, or raise daily_lookup_budget"
		}
	}
	return v, nil
}

func (h *Handler) listColumns(w http.ResponseWriter, r *http.Request, pr *Principal) {
	tb, err := h.store.GetTable(r.Context(), pr.Workspace.ID, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	acs, err := h.store.ActionColumns(r.Context(), tb.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := []actionColumnView{}
	for _, a := range acs {
		v, err := h.viewActionColumn(r.Context(), a)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, map[string]any{"columns": viewTable(tb).Columns, "action_columns": out})
}

// addColumn adds a data column ({"name","type"}) or an action column
// ({"name","type":"action","action":{…}}).
func (h *Handler) addColumn(w http.ResponseWriter, r *http.Request, pr *Principal) {
	var body struct {
		Name   string            `json:"name"`
		Type   string            `json:"type"`
		Action *store.ActionSpec `json:"action"`
	}
	if err := decode(r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	if body.Type != "action" && body.Action == nil {
		h.addDataColumn(w, r, pr, store.Column{Name: strings.TrimSpace(body.Name), Type: body.Type})
		return
	}
	if body.Action == nil {
		h.fail(w, r, invalidField("action", "an action column needs its action: connection_ids, lookup, inputs and outputs"))
		return
	}
	a, err := h.enrich.CreateColumn(r.Context(), pr.Workspace, r.PathValue("id"), enrich.ColumnRequest{Name: body.Name, Spec: *body.Action})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	v, err := h.viewActionColumn(r.Context(), a)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, v)
}

func (h *Handler) addDataColumn(w http.ResponseWriter, r *http.Request, pr *Principal, c store.Column) {
	var tb *store.Table
	err := h.store.InTx(r.Context(), func(tx *store.Tx) error {
		var err error
		if tb, err = h.store.GetTable(r.Context(), pr.Workspace.ID, r.PathValue("id")); err != nil {
			return err
		}
		acs, err := h.store.ActionColumns(r.Context(), tb.ID)
		if err != nil {
			return err
		}
		if slices.ContainsFunc(acs, func(a *store.ActionColumn) bool { return a.Name == c.Name }) {
			return &connection.ValidationError{Fields: []catalog.FieldError{{Field: "name", Message: "the table has an action column named " + c.Name}}}
		}
		cols := append(slices.Clone(tb.Columns), c)
		if errs := tables.ValidateColumns(cols); len(errs) > 0 {
			for i := range errs {
				errs[i].Field = strings.Replace(errs[i].Field, "columns["+strconv.Itoa(len(cols)-1)+"].", "", 1)
			}
			return &connection.ValidationError{Fields: errs}
		}
		tb.Columns = cols
		return tx.SetTableColumns(r.Context(), tb.ID, cols)
	})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, viewTable(tb))
}

func (h *Handler) column(w http.ResponseWriter, r *http.Request, pr *Principal) (*store.ActionColumn, bool) {
	a, err := h.enrich.Column(r.Context(), pr.Workspace, r.PathValue("id"), r.PathValue("col"))
	if err != nil {
		h.fail(w, r, err)
		return nil, false
	}
	return a, true
}

func (h *Handler) getColumn(w http.ResponseWriter, r *http.Request, pr *Principal) {
	a, ok := h.column(w, r, pr)
	if !ok {
		return
	}
	v, err := h.viewActionColumn(r.Context(), a)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// patchColumn edits an action column's action ({"action":{…}}, all of it).
func (h *Handler) patchColumn(w http.ResponseWriter, r *http.Request, pr *Principal) {
	var body struct {
		Action *store.ActionSpec `json:"action"`
	}
	if err := decode(r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	if body.Action == nil {
		h.fail(w, r, invalidField("action", "send the column's action: connection_ids, lookup, inputs and outputs"))
		return
	}
	a, err := h.enrich.UpdateColumn(r.Context(), pr.Workspace, r.PathValue("id"), r.PathValue("col"), *body.Action)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	v, err := h.viewActionColumn(r.Context(), a)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (h *Handler) deleteColumn(w http.ResponseWriter, r *http.Request, pr *Principal) {
	a, ok := h.column(w, r, pr)
	if !ok {
		return
	}
	if err := h.store.InTx(r.Context(), func(tx *store.Tx) error { return tx.DeleteActionColumn(r.Context(), a.ID) }); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// runColumn queues cells again; the lookups happen in the background, the
// run (GET …/runs/{run}) counts them as they finish.
func (h *Handler) runColumn(w http.ResponseWriter, r *http.Request, pr *Principal) {
	var body struct {
		Only string `json:"only"`
	}
	if err := decode(r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	run, err := h.enrich.Run(r.Context(), pr.Workspace, r.PathValue("id"), r.PathValue("col"), body.Only)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, viewEnrichRun(run))
}

func (h *Handler) columnRuns(w http.ResponseWriter, r *http.Request, pr *Principal) {
	a, ok := h.column(w, r, pr)
	if !ok {
		return
	}
	runs, err := h.store.EnrichRuns(r.Context(), a.ID, 100)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := []enrichRunView{}
	for _, run := range runs {
		out = append(out, viewEnrichRun(run))
	}
	writeJSON(w, http.StatusOK, map[string]any{"runs": out})
}

func (h *Handler) columnRun(w http.ResponseWriter, r *http.Request, pr *Principal) {
	a, ok := h.column(w, r, pr)
	if !ok {
		return
	}
	run, err := h.store.GetEnrichRun(r.Context(), a.ID, r.PathValue("run"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewEnrichRun(run))
}

type enrichmentView struct {
	DailyLookupBudget int        `json:"daily_lookup_budget"` // 0: unlimited
	LookupsToday      int        `json:"lookups_today"`
	BudgetResetsAt    *time.Time `json:"budget_resets_at,omitempty"`
	CacheTTL          string     `json:"cache_ttl,omitempty"` // empty: the server's default
}

func (h *Handler) viewEnrichment(es *store.EnrichSettings) enrichmentView {
	now := h.now().UTC()
	v := enrichmentView{DailyLookupBudget: es.DailyBudget}
	if es.Day == now.Format(time.DateOnly) {
		v.LookupsToday = es.Used
	}
	if es.DailyBudget > 0 {
		y, m, d := now.Date()
		v.BudgetResetsAt = tp(time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC))
	}
	if es.CacheTTL > 0 {
		v.CacheTTL = es.CacheTTL.String()
	}
	return v
}

func (h *Handler) getEnrichment(w http.ResponseWriter, r *http.Request, pr *Principal) {
	tb, err := h.store.GetTable(r.Context(), pr.Workspace.ID, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	es, err := h.store.GetEnrichSettings(r.Context(), tb.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.viewEnrichment(es))
}

// patchEnrichment sets a table's daily lookup budget and cache time to live.
func (h *Handler) patchEnrichment(w http.ResponseWriter, r *http.Request, pr *Principal) {
	var body struct {
		DailyLookupBudget *int    `json:"daily_lookup_budget"`
		CacheTTL          *string `json:"cache_ttl"`
	}
	if err := decode(r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	tb, err := h.store.GetTable(r.Context(), pr.Workspace.ID, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	es, err := h.store.GetEnrichSettings(r.Context(), tb.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var errs []catalog.FieldError
	if b := body.DailyLookupBudget; b != nil {
		if *b < 0 {
			errs = append(errs, catalog.FieldError{Field: "daily_lookup_budget", Message: "must be 0 (unlimited) or more"})
		}
		es.DailyBudget = *b
	}
	if t := body.CacheTTL; t != nil {
		if *t == "" {
			es.CacheTTL = 0
		} else if d, err := time.ParseDuration(*t); err != nil || d < time.Second {
			errs = append(errs, catalog.FieldError{Field: "cache_ttl", Message: "a duration of at least 1s such as 24h or 168h; empty for the server's default"})
		} else {
			es.CacheTTL = d
		}
	}
	if len(errs) > 0 {
		h.fail(w, r, &connection.ValidationError{Fields: errs})
		return
	}
	if err := h.store.SetEnrichSettings(r.Context(), es); err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.viewEnrichment(es))
}
