package api

import (
	"context"
	"encoding/base64"
	"net/http"
	"strconv"
	"time"

	"patchbay/internal/store"
	"patchbay/internal/syncer"
	"patchbay/internal/tables"
)

// DataDeps are the services behind the tables and syncs routes.
type DataDeps struct {
	Tables *tables.Service
	Syncs  *syncer.Engine
	// Webhooks receives provider webhooks (realtime syncs); nil leaves the route out.
	Webhooks http.Handler
	// DueNow is told that a saved sync is due now (created with a schedule,
	// resumed or rescheduled), so that its run starts without waiting for
	// the job engine's next sweep. Optional.
	DueNow func(ctx context.Context, syncID string)
	// Saved is told about every sync created or edited (realtime syncs need
	// change subscriptions at the provider). Optional.
	Saved func(ctx context.Context, y *store.Sync)
	// Notify asks for a debounced run of a realtime sync after a provider's
	// change notification. Required for the realtime receiver.
	Notify func(ctx context.Context, syncID string) error
}

// SetData wires the tables and syncs routes; call it before Register.
func (h *Handler) SetData(d DataDeps) { h.data = &d }

type route = func(pattern string, fn func(http.ResponseWriter, *http.Request, *Principal))

func (h *Handler) registerData(mux *http.ServeMux, api route) {
	if h.data == nil {
		return
	}
	api("POST /api/v1/tables", h.createTable)
	api("GET /api/v1/tables", h.listTables)
	api("GET /api/v1/tables/{id}", h.getTable)
	api("GET /api/v1/tables/{id}/rows", h.listRows)
	api("POST /api/v1/tables/{id}/rows", h.addRows)
	api("PATCH /api/v1/tables/{id}/rows/{row}", h.patchRow)
	api("GET /api/v1/tables/{id}/syncs", h.tableSyncs)
	api("GET /api/v1/syncs", h.listSyncs)
	api("POST /api/v1/syncs", h.createSync)
	api("GET /api/v1/syncs/{id}", h.getSync)
	api("PATCH /api/v1/syncs/{id}", h.patchSync)
	api("POST /api/v1/syncs/{id}/run", h.runSync)
	api("GET /api/v1/syncs/{id}/runs", h.syncRuns)
	api("GET /api/v1/runs/{id}", h.getRun)
	if h.data.Webhooks != nil {
		mux.Handle("POST /webhooks/hubspot", h.data.Webhooks)
	}
	h.registerRealtime(mux)
}

type tableView struct {
	ID        string         `json:"id"`
	Name      string         `json:"name"`
	Columns   []store.Column `json:"columns"`
	CreatedAt time.Time      `json:"created_at"`
	UpdatedAt time.Time      `json:"updated_at"`
}

func viewTable(t *store.Table) tableView {
	cols := t.Columns
	if cols == nil {
		cols = []store.Column{}
	}
	return tableView{ID: t.ID, Name: t.Name, Columns: cols, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
}

type sourceView struct {
	ConnectionID string     `json:"connection_id"`
	Object       string     `json:"object"`
	ExternalID   string     `json:"external_id"`
	DeletedAt    *time.Time `json:"deleted_at,omitempty"`
	PushedAt     *time.Time `json:"pushed_at,omitempty"`
}

type rowView struct {
	ID        string         `json:"id"`
	Values    map[string]any `json:"values"`
	Sources   []sourceView   `json:"sources"`
	Cells     cellMap        `json:"cells,omitempty"` // action columns' cell states, by column name
	CreatedAt time.Time      `json:"created_at"`
	UpdatedAt time.Time      `json:"updated_at"`
	DeletedAt *time.Time     `json:"deleted_at,omitempty"`
}

func viewRow(r *store.Row, srcs []*store.Source) rowView {
	v := rowView{ID: r.ID, Values: r.Values, Sources: []sourceView{}, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, DeletedAt: tp(r.DeletedAt)}
	for _, s := range srcs {
		v.Sources = append(v.Sources, sourceView{ConnectionID: s.ConnectionID, Object: s.Object, ExternalID: s.ExternalID,
			DeletedAt: tp(s.DeletedAt), PushedAt: tp(s.PushedAt)})
	}
	return v
}

func (h *Handler) createTable(w http.ResponseWriter, r *http.Request, pr *Principal) {
	var body struct {
		Name    string         `json:"name"`
		Columns []store.Column `json:"columns"`
	}
	if err := decode(r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	tb, err := h.data.Tables.Create(r.Context(), pr.Workspace, body.Name, body.Columns)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, viewTable(tb))
}

func (h *Handler) listTables(w http.ResponseWriter, r *http.Request, pr *Principal) {
	tbs, err := h.store.ListTables(r.Context(), pr.Workspace.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := []tableView{}
	for _, t := range tbs {
		out = append(out, viewTable(t))
	}
	writeJSON(w, http.StatusOK, map[string]any{"tables": out})
}

func (h *Handler) getTable(w http.ResponseWriter, r *http.Request, pr *Principal) {
	tb, err := h.store.GetTable(r.Context(), pr.Workspace.ID, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewTable(tb))
}

// Paging over rows.
const (
	defaultRowLimit = 100
	maxRowLimit     = 1000
)

// listRows pages by row id: the cursor is the last id of the previous page,
// so a page costs one index range scan however large the table is.
func (h *Handler) listRows(w http.ResponseWriter, r *http.Request, pr *Principal) {
	tb, err := h.store.GetTable(r.Context(), pr.Workspace.ID, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	limit := defaultRowLimit
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxRowLimit {
			h.fail(w, r, invalidField("limit", "%s", "must be a whole number from 1 to "+strconv.Itoa(maxRowLimit)))
			return
		}
		limit = n
	}
	after := ""
	if c := q.Get("cursor"); c != "" {
		b, err := base64.RawURLEncoding.DecodeString(c)
		if err != nil {
			h.fail(w, r, invalidField("cursor", "not a cursor this API handed out; use next_cursor of the previous page"))
			return
		}
		after = string(b)
	}
	withDeleted := q.Get("include_deleted") == "true"
	rows, err := h.store.ListRows(r.Context(), tb.ID, after, limit+1, withDeleted)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	next := ""
	if len(rows) > limit {
		rows = rows[:limit]
		next = base64.RawURLEncoding.EncodeToString([]byte(rows[len(rows)-1].ID))
	}
	ids := make([]string, len(rows))
	for i, row := range rows {
		ids[i] = row.ID
	}
	srcs, err := h.store.SourcesOfRowIDs(r.Context(), ids)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	cells, err := h.rowCells(r.Context(), ids)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := make([]rowView, len(rows))
	for i, row := range rows {
		out[i] = viewRow(row, srcs[row.ID])
		out[i].Cells = cells[row.ID]
	}
	var nc any
	if next != "" {
		nc = next
	}
	writeJSON(w, http.StatusOK, map[string]any{"rows": out, "next_cursor": nc})
}

func (h *Handler) addRows(w http.ResponseWriter, r *http.Request, pr *Principal) {
	var body struct {
		Rows []struct {
			Values map[string]any `json:"values"`
		} `json:"rows"`
	}
	if err := decode(r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	vals := make([]map[string]any, len(body.Rows))
	for i, row := range body.Rows {
		vals[i] = row.Values
	}
	rows, err := h.data.Tables.AddRows(r.Context(), pr.Workspace, r.PathValue("id"), vals)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := make([]rowView, len(rows))
	for i, row := range rows {
		out[i] = viewRow(row, nil)
	}
	writeJSON(w, http.StatusCreated, map[string]any{"rows": out})
}

func (h *Handler) patchRow(w http.ResponseWriter, r *http.Request, pr *Principal) {
	var body struct {
		Values map[string]any `json:"values"`
	}
	if err := decode(r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	row, err := h.data.Tables.PatchRow(r.Context(), pr.Workspace, r.PathValue("id"), r.PathValue("row"), body.Values)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	srcs, err := h.store.SourcesOfRowIDs(r.Context(), []string{row.ID})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewRow(row, srcs[row.ID]))
}
