package api

import (
	"errors"
	"net/http"
	"time"

	"patchbay/internal/access"
	"patchbay/internal/connector"
	"patchbay/internal/syncer"
)

// registerSchemas mounts the connection schema routes (API.md Contract v2).
func (h *Handler) registerSchemas(mux *http.ServeMux) {
	if h.data == nil {
		return
	}
	h.route(mux, "GET /api/v1/connections/{id}/schema", access.Viewer, h.getSchema)
	h.route(mux, "POST /api/v1/connections/{id}/schema/refresh", access.Member, h.refreshSchema)
}

// schemaView is GET /connections/{id}/schema: fetched_at is null while the
// catalog's fields stand in (before the first fetch, or for providers
// without a metadata API).
type schemaView struct {
	FetchedAt *time.Time               `json:"fetched_at"`
	Objects   []connector.SchemaObject `json:"objects"`
}

func viewSchema(sc *syncer.ConnectionSchema) schemaView {
	v := schemaView{Objects: sc.Objects}
	if !sc.FetchedAt.IsZero() {
		t := sc.FetchedAt
		v.FetchedAt = &t
	}
	if v.Objects == nil {
		v.Objects = []connector.SchemaObject{}
	}
	return v
}

func (h *Handler) getSchema(w http.ResponseWriter, r *http.Request, pr *Principal) {
	c, err := h.store.GetConnection(r.Context(), pr.Workspace.ID, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	sc, err := h.data.Syncs.Schema(r.Context(), c)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewSchema(sc))
}

func (h *Handler) refreshSchema(w http.ResponseWriter, r *http.Request, pr *Principal) {
	c, err := h.store.GetConnection(r.Context(), pr.Workspace.ID, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	sc, err := h.data.Syncs.RefreshSchema(r.Context(), c)
	if errors.Is(err, syncer.ErrNoSchema) {
		writeProblem(w, Problem{Status: http.StatusConflict, Title: "No schema to refresh", Detail: err.Error()})
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewSchema(sc))
}
