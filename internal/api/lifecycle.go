package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"patchbay/internal/access"
	"patchbay/internal/connection"
	"patchbay/internal/store"
	"patchbay/internal/syncer"
)

// The lifecycle routes of contract v2: removing a sync, a row, a table (with
// its syncs, hooks and action columns) and a connection that is no longer
// connected and that nothing uses.
func (h *Handler) registerLifecycle(mux *http.ServeMux) {
	h.route(mux, "DELETE /api/v1/connections/{id}", access.Admin, h.deleteConnection)
	if h.data == nil {
		return
	}
	h.route(mux, "DELETE /api/v1/syncs/{id}", access.Member, h.deleteSync)
	h.route(mux, "DELETE /api/v1/tables/{id}", access.Member, h.deleteTable)
	h.route(mux, "DELETE /api/v1/tables/{id}/rows/{row}", access.Member, h.deleteRow)
}

// errInUse is a removal refused because something still uses the thing.
type errInUse struct{ what, users string }

func (e *errInUse) Error() string { return e.what + " is still used by " + e.users }

func (h *Handler) lifecycleFail(w http.ResponseWriter, r *http.Request, err error) {
	var iu *errInUse
	switch {
	case errors.As(err, &iu):
		writeProblem(w, Problem{Type: "/problems/in-use", Title: "Still in use", Status: http.StatusConflict,
			Detail: iu.Error() + "; delete or move those first"})
	case errors.Is(err, syncer.ErrBusy):
		writeProblem(w, Problem{Type: "/problems/sync-running", Title: "Sync running", Status: http.StatusConflict,
			Detail: "a sync is running right now; wait for its run to finish, then delete"})
	default:
		h.fail(w, r, err)
	}
}

// holdSyncs keeps each sync from running while it is removed; it answers
// syncer.ErrBusy when one is running.
func (h *Handler) holdSyncs(r *http.Request, ys []*store.Sync) (release func(), err error) {
	var held []func()
	release = func() {
		for _, f := range held {
			f()
		}
	}
	for _, y := range ys {
		f, err := h.data.Syncs.Hold(r.Context(), y.ID)
		if err != nil {
			release()
			return nil, err
		}
		held = append(held, f)
	}
	return release, nil
}

func (h *Handler) deleteSync(w http.ResponseWriter, r *http.Request, pr *Principal) {
	y, err := h.store.GetSync(r.Context(), pr.Workspace.ID, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	release, err := h.holdSyncs(r, []*store.Sync{y})
	if err != nil {
		h.lifecycleFail(w, r, err)
		return
	}
	defer release()
	err = h.store.InTx(r.Context(), func(tx *store.Tx) error {
		if err := tx.DeleteSync(r.Context(), pr.Workspace.ID, y.ID); err != nil {
			return err
		}
		return tx.AddEvent(r.Context(), &store.Event{WorkspaceID: pr.Workspace.ID, ConnectionID: y.ConnectionID, Kind: "sync.deleted",
			Message: fmt.Sprintf("%s %s sync deleted by %s", y.Direction, y.Object, pr.Token.Name), Data: map[string]any{"sync_id": y.ID, "table_id": y.TableID}})
	})
	if err != nil {
		h.lifecycleFail(w, r, err)
		return
	}
	h.saved(r, y) // its change subscription may go with it
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) deleteTable(w http.ResponseWriter, r *http.Request, pr *Principal) {
	tb, err := h.store.GetTable(r.Context(), pr.Workspace.ID, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ys, err := h.store.ListTableSyncs(r.Context(), pr.Workspace.ID, tb.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	release, err := h.holdSyncs(r, ys)
	if err != nil {
		h.lifecycleFail(w, r, err)
		return
	}
	defer release()
	err = h.store.InTx(r.Context(), func(tx *store.Tx) error {
		if err := tx.DeleteTable(r.Context(), pr.Workspace.ID, tb.ID); err != nil {
			return err
		}
		return tx.AddEvent(r.Context(), &store.Event{WorkspaceID: pr.Workspace.ID, Kind: "table.deleted",
			Message: fmt.Sprintf("table %q deleted with its %d syncs by %s", tb.Name, len(ys), pr.Token.Name), Data: map[string]any{"table_id": tb.ID}})
	})
	if err != nil {
		h.lifecycleFail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) deleteRow(w http.ResponseWriter, r *http.Request, pr *Principal) {
	tb, err := h.store.GetTable(r.Context(), pr.Workspace.ID, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.store.InTx(r.Context(), func(tx *store.Tx) error { return tx.DeleteRow(r.Context(), tb.ID, r.PathValue("row")) }); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// deleteConnection removes a connection that is not connected and that no
// sync or action column uses; the refusal names those that do.
func (h *Handler) deleteConnection(w http.ResponseWriter, r *http.Request, pr *Principal) {
	c, err := h.store.GetConnection(r.Context(), pr.Workspace.ID, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if c.Status == connection.StatusConnected {
		writeProblem(w, Problem{Type: "/problems/still-connected", Title: "Still connected", Status: http.StatusConflict,
			Detail: "the connection is still connected: disconnect it first, then remove it"})
		return
	}
	users, err := h.store.UsersOfConnection(r.Context(), pr.Workspace.ID, c.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if !users.Empty() {
		h.lifecycleFail(w, r, &errInUse{what: "the connection", users: h.describeUsers(r, pr, users)})
		return
	}
	err = h.store.InTx(r.Context(), func(tx *store.Tx) error {
		if err := tx.DeleteConnection(r.Context(), c.ID); err != nil {
			return err
		}
		return tx.AddEvent(r.Context(), &store.Event{WorkspaceID: pr.Workspace.ID, Kind: "connection.deleted",
			Message: fmt.Sprintf("%s connection removed by %s", c.Provider, pr.Token.Name), Data: map[string]any{"connection_id": c.ID}})
	})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// describeUsers names syncs by direction, object and table, and action
// columns by name and table, for a person to find them.
func (h *Handler) describeUsers(r *http.Request, pr *Principal, u store.ConnectionUsers) string {
	tableName := func(id string) string {
		if tb, err := h.store.GetTable(r.Context(), pr.Workspace.ID, id); err == nil {
			return tb.Name
		}
		return id
	}
	var parts []string
	for _, y := range u.Syncs {
		parts = append(parts, fmt.Sprintf("the %s %s sync of table %q", y.Direction, y.Object, tableName(y.TableID)))
	}
	for _, a := range u.ActionColumns {
		parts = append(parts, fmt.Sprintf("the action column %q of table %q", a.Name, tableName(a.TableID)))
	}
	return strings.Join(parts, ", ")
}
