package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Editing a sync (the setup form, filled in from the sync) and removing what
// users made: a sync, rows, a table with what goes with it, a connection
// nothing uses. Every removal shows what goes first and asks to confirm; the
// API decides, and its refusal is shown in words.

// editForm fills the setup form's fields from a saved sync.
func editForm(y *syncInfo) url.Values {
	f := url.Values{"sent": {"1"}, "direction": {y.Direction}, "source": {y.ConnectionID + ":" + y.Object},
		"filter": {y.Filter}, "mode": {y.Mode}, "match_key": {y.MatchKey}}
	for _, m := range y.Mapping {
		col, field := m.Target, m.Source
		if y.Direction == "outbound" {
			col, field = m.Source, m.Target
		}
		f.Set("map."+col, field)
		if m.OverwriteEmpty {
			f.Set("overwrite."+col, "1")
		}
	}
	switch every, ok := strings.CutPrefix(y.Schedule, "every:"); {
	case ok:
		f.Set("schedule_kind", "every")
		if d, err := time.ParseDuration(every); err == nil {
			f.Set("every_minutes", strconv.Itoa(int(d.Minutes())))
		}
	case y.Schedule == "realtime":
		f.Set("schedule_kind", "realtime")
	default:
		f.Set("schedule_kind", "manual")
	}
	if y.MaxRecords > 0 {
		f.Set("max_records", strconv.Itoa(y.MaxRecords))
	}
	return f
}

// editSync is the edit form of a sync.
func (h *Handler) editSync(w http.ResponseWriter, r *http.Request, s *session) {
	var y syncInfo
	if err := h.call(r.Context(), s, "GET", "/syncs/"+url.PathEscape(r.PathValue("id")), nil, &y); err != nil {
		h.errorPage(w, s, h.asProblem(r.Context(), err), "/tables")
		return
	}
	h.renderSetup(w, r, s, http.StatusOK, y.TableID, &y, editForm(&y), nil, nil)
}

// saveSync saves the edit form: the same checks as creation, by the API.
// What the sync reads and where it writes stay; the rest may change.
func (h *Handler) saveSync(w http.ResponseWriter, r *http.Request, s *session) {
	var y syncInfo
	if err := h.call(r.Context(), s, "GET", "/syncs/"+url.PathEscape(r.PathValue("id")), nil, &y); err != nil {
		h.errorPage(w, s, h.asProblem(r.Context(), err), "/tables")
		return
	}
	var tb tableInfo
	if err := h.call(r.Context(), s, "GET", "/tables/"+url.PathEscape(y.TableID), nil, &tb); err != nil {
		h.errorPage(w, s, h.asProblem(r.Context(), err), "/tables")
		return
	}
	form := r.PostForm
	form.Set("direction", y.Direction)
	form.Set("source", y.ConnectionID+":"+y.Object)
	body, order := syncForm(tb, form)
	for _, k := range []string{"direction", "connection_id", "object"} {
		delete(body, k)
	}
	p := badBatch(body)
	if p == nil && y.Direction == "outbound" && r.PostFormValue("confirmed") == "" {
		// An outbound change is previewed first: the dry run of the unsaved settings.
		var res struct {
			Plan []planItem `json:"plan"`
		}
		err := h.call(r.Context(), s, "POST", "/syncs/"+url.PathEscape(y.ID)+"/run", map[string]any{"dry_run": true, "changes": body}, &res)
		if err == nil {
			h.renderPreview(w, r, s, &y, tb, res.Plan, form)
			return
		}
		if p = h.asProblem(r.Context(), err); p.Status != http.StatusUnprocessableEntity {
			h.errorPage(w, s, p, "/tables/"+url.PathEscape(y.TableID))
			return
		}
	}
	if p == nil {
		if err := h.call(r.Context(), s, "PATCH", "/syncs/"+url.PathEscape(y.ID), body, nil); err != nil {
			if p = h.asProblem(r.Context(), err); p.Status != http.StatusUnprocessableEntity {
				h.errorPage(w, s, p, "/tables/"+url.PathEscape(y.TableID))
				return
			}
		}
	}
	if p != nil {
		h.renderSetup(w, r, s, p.Status, y.TableID, &y, form, p, order)
		return
	}
	http.Redirect(w, r, "/tables/"+url.PathEscape(y.TableID)+"?notice=sync_saved#sync-"+url.PathEscape(y.ID), http.StatusSeeOther)
}

// confirmPage is a removal's confirmation: what goes, and the button.
type confirmPage struct {
	Title  string
	Crumbs []crumb
	Lead   string
	Goes   []string // what goes with it
	Keeps  []string // what stays
	Action string
	Hidden map[string][]string // extra form fields to carry
	Button string
	Return string
}

type crumb struct{ Href, Label string }

func (h *Handler) renderConfirm(w http.ResponseWriter, s *session, status int, c *confirmPage, p *problem) {
	d := h.pageData(s, c.Title)
	d["Nav"] = "tables"
	d["C"], d["Problem"] = c, p
	h.render(w, status, "confirm", d)
}

// syncTitle names a sync for people: "HubSpot contacts → Leads".
func syncTitle(y *syncInfo, provider, table string) string {
	if y.Direction == "outbound" {
		return table + " → " + provider + " " + y.Object
	}
	return provider + " " + y.Object + " → " + table
}

func (h *Handler) deleteSyncPage(w http.ResponseWriter, r *http.Request, s *session) {
	var y syncInfo
	if err := h.call(r.Context(), s, "GET", "/syncs/"+url.PathEscape(r.PathValue("id")), nil, &y); err != nil {
		h.errorPage(w, s, h.asProblem(r.Context(), err), "/tables")
		return
	}
	var tb tableInfo
	if err := h.call(r.Context(), s, "GET", "/tables/"+url.PathEscape(y.TableID), nil, &tb); err != nil {
		h.errorPage(w, s, h.asProblem(r.Context(), err), "/tables")
		return
	}
	conns, _, err := h.loadConnections(r.Context(), s)
	if err != nil {
		h.errorPage(w, s, h.asProblem(r.Context(), err), "/tables")
		return
	}
	provider := y.ConnectionID
	if c := conns[y.ConnectionID]; c != nil {
		provider = c.ProviderName
	}
	back := "/tables/" + url.PathEscape(tb.ID)
	h.renderConfirm(w, s, http.StatusOK, &confirmPage{
		Title:  "Delete the sync " + syncTitle(&y, provider, tb.Name) + "?",
		Crumbs: []crumb{{"/tables", "Tables"}, {back, tb.Name}},
		Lead:   "The sync stops for good: no scheduled, realtime or manual run any more.",
		Goes:   []string{"the sync's settings (filter, mapping, schedule)", "its run history"},
		Keeps:  []string{"the rows it brought into " + tb.Name, "the records at " + provider, "the connection"},
		Action: "/syncs/" + url.PathEscape(y.ID) + "/delete", Button: "Delete sync", Return: back,
	}, nil)
}

func (h *Handler) deleteSync(w http.ResponseWriter, r *http.Request, s *session) {
	var y syncInfo
	if err := h.call(r.Context(), s, "GET", "/syncs/"+url.PathEscape(r.PathValue("id")), nil, &y); err != nil {
		h.errorPage(w, s, h.asProblem(r.Context(), err), "/tables")
		return
	}
	back := "/tables/" + url.PathEscape(y.TableID)
	if err := h.call(r.Context(), s, "DELETE", "/syncs/"+url.PathEscape(y.ID), nil, nil); err != nil {
		h.errorPage(w, s, h.asProblem(r.Context(), err), back)
		return
	}
	http.Redirect(w, r, back+"?notice=sync_deleted", http.StatusSeeOther)
}

func (h *Handler) deleteTablePage(w http.ResponseWriter, r *http.Request, s *session) {
	tp, err := h.loadTable(r.Context(), s, r.PathValue("id"), "")
	if err != nil {
		h.errorPage(w, s, h.asProblem(r.Context(), err), "/tables")
		return
	}
	var hooks struct {
		Hooks []struct{ ID string } `json:"hooks"`
	}
	// The bridge is optional: without it there are no hooks to list.
	if err := h.call(r.Context(), s, "GET", "/tables/"+url.PathEscape(tp.T.ID)+"/hooks", nil, &hooks); err != nil {
		if p, ok := err.(*problem); !ok || p.Status != http.StatusNotFound {
			h.errorPage(w, s, h.asProblem(r.Context(), err), "/tables")
			return
		}
	}
	rows := plural(len(tp.Rows), "row", "rows")
	if tp.Next != "" {
		rows = fmt.Sprintf("more than %d rows", len(tp.Rows))
	}
	goes := []string{"its " + rows + " and columns"}
	for _, y := range tp.Syncs {
		provider := y.Sync.ConnectionID
		if y.Conn != nil {
			provider = y.Conn.ProviderName
		}
		goes = append(goes, "the sync "+syncTitle(&y.Sync, provider, tp.T.Name)+", with its run history")
	}
	for _, a := range tp.Actions {
		goes = append(goes, "the action column "+a.Name+", with its cells")
	}
	if n := len(hooks.Hooks); n > 0 {
		goes = append(goes, plural(n, "webhook bridge hook (its URL stops working)", "webhook bridge hooks (their URLs stop working)"))
	}
	back := "/tables/" + url.PathEscape(tp.T.ID)
	h.renderConfirm(w, s, http.StatusOK, &confirmPage{
		Title:  "Delete the table " + tp.T.Name + "?",
		Crumbs: []crumb{{"/tables", "Tables"}, {back, tp.T.Name}},
		Lead:   "This cannot be undone. With the table go:",
		Goes:   goes,
		Keeps:  []string{"the records at the providers", "the connections"},
		Action: back + "/delete", Button: "Delete table", Return: back,
	}, nil)
}

func (h *Handler) deleteTable(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	if err := h.call(r.Context(), s, "DELETE", "/tables/"+url.PathEscape(id), nil, nil); err != nil {
		h.errorPage(w, s, h.asProblem(r.Context(), err), "/tables/"+url.PathEscape(id))
		return
	}
	http.Redirect(w, r, "/tables?notice=table_deleted", http.StatusSeeOther)
}

// deleteRows removes the rows ticked on the table page, after a confirmation
// that says how many.
func (h *Handler) deleteRows(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	back := "/tables/" + url.PathEscape(id)
	rows := r.PostForm["row"]
	if len(rows) == 0 {
		http.Redirect(w, r, back+"?notice=no_rows_ticked", http.StatusSeeOther)
		return
	}
	if r.PostFormValue("confirmed") == "" {
		var tb tableInfo
		if err := h.call(r.Context(), s, "GET", back, nil, &tb); err != nil {
			h.errorPage(w, s, h.asProblem(r.Context(), err), "/tables")
			return
		}
		h.renderConfirm(w, s, http.StatusOK, &confirmPage{
			Title:  "Delete " + plural(len(rows), "row", "rows") + " of " + tb.Name + "?",
			Crumbs: []crumb{{"/tables", "Tables"}, {back, tb.Name}},
			Lead:   "The rows go from the table with their action column cells. The records at the providers stay; an inbound sync brings a row back when its record changes there.",
			Action: back + "/rows/delete", Hidden: map[string][]string{"row": rows, "confirmed": {"1"}},
			Button: "Delete " + plural(len(rows), "row", "rows"), Return: back,
		}, nil)
		return
	}
	for _, row := range rows {
		if err := h.call(r.Context(), s, "DELETE", back+"/rows/"+url.PathEscape(row), nil, nil); err != nil {
			// A row deleted meanwhile is as good as deleted now.
			if p, ok := err.(*problem); !ok || p.Status != http.StatusNotFound {
				h.errorPage(w, s, h.asProblem(r.Context(), err), back)
				return
			}
		}
	}
	http.Redirect(w, r, back+"?notice=rows_deleted", http.StatusSeeOther)
}

func (h *Handler) removeConnectionPage(w http.ResponseWriter, r *http.Request, s *session) {
	var c conn
	if err := h.call(r.Context(), s, "GET", "/connections/"+url.PathEscape(r.PathValue("id")), nil, &c); err != nil {
		h.errorPage(w, s, h.asProblem(r.Context(), err), "/")
		return
	}
	h.renderConfirm(w, s, http.StatusOK, h.removeConfirm(&c), nil)
}

func (h *Handler) removeConfirm(c *conn) *confirmPage {
	back := "/connections/" + url.PathEscape(c.ID)
	return &confirmPage{
		Title:  "Remove the " + c.ProviderName + " connection " + c.AccountLabel() + "?",
		Crumbs: []crumb{{"/", "Integrations"}, {back, c.ProviderName}},
		Lead:   "The connection leaves the integrations page for good. To use " + c.ProviderName + " again, connect it anew.",
		Goes:   []string{"the connection, its notes and its health history"},
		Keeps:  []string{"the tables and rows its syncs filled", "the audit log"},
		Action: back + "/remove", Button: "Remove connection", Return: back,
	}
}

func (h *Handler) removeConnection(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	if err := h.call(r.Context(), s, "DELETE", "/connections/"+url.PathEscape(id), nil, nil); err != nil {
		p := h.asProblem(r.Context(), err)
		var c conn
		if p.Status != http.StatusConflict || h.call(r.Context(), s, "GET", "/connections/"+url.PathEscape(id), nil, &c) != nil {
			h.errorPage(w, s, p, "/connections/"+url.PathEscape(id))
			return
		}
		h.renderConfirm(w, s, p.Status, h.removeConfirm(&c), p)
		return
	}
	http.Redirect(w, r, "/?notice=connection_removed", http.StatusSeeOther)
}

// plural is "1 row" or "3 rows".
func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
