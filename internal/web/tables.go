package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The tables pages: a list of tables, a table's rows with paging and its
// action columns' cell states, adding rows, and the table's syncs (setup,
// Sync now, dry-run preview, pause and resume, run history). Everything goes
// through the JSON API; this file only turns forms into API bodies and API
// answers into pages.

// columnTypes are the data column types the API accepts, in display order.
var columnTypes = []struct{ Value, Label string }{
	{"text", "Text"}, {"number", "Number"}, {"boolean", "Yes / no"}, {"datetime", "Date and time"}, {"json", "JSON"},
}

// newColumnSlots is how many empty column rows the create-table form offers
// (the script adds more on request).
const newColumnSlots = 4

// rowsPerPage is the table page's page size.
const rowsPerPage = 50

// runsShown is how many runs of each sync the table page lists.
const runsShown = 10

type column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

type tableInfo struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Columns   []column   `json:"columns"`
	CreatedAt *time.Time `json:"created_at"`
	UpdatedAt *time.Time `json:"updated_at"`
}

type cellInfo struct {
	State    string     `json:"state"`
	Reason   string     `json:"reason"`
	Message  string     `json:"message"`
	Provider string     `json:"provider"`
	Attempts int        `json:"attempts"`
	RetryAt  *time.Time `json:"retry_at"`
}

// Label is the cell state in words, with the reason when there is one.
func (c cellInfo) Label() string {
	label := map[string]string{"pending": "Pending", "done": "Done", "not_found": "Not found", "failed": "Failed"}[c.State]
	if label == "" {
		label = strings.ReplaceAll(c.State, "_", " ")
	}
	if c.Reason != "" {
		label += ": " + strings.ReplaceAll(c.Reason, "_", " ")
	}
	return label
}

type sourceInfo struct {
	ConnectionID string `json:"connection_id"`
	Object       string `json:"object"`
	ExternalID   string `json:"external_id"`
}

type rowInfo struct {
	ID        string              `json:"id"`
	Values    map[string]any      `json:"values"`
	Sources   []sourceInfo        `json:"sources"`
	Cells     map[string]cellInfo `json:"cells"`
	UpdatedAt *time.Time          `json:"updated_at"`
}

// Cell is the value of column name as text.
func (r rowInfo) Cell(name string) string { return showValue(r.Values[name]) }

// State is the action column's cell of this row; nil when it has none.
func (r rowInfo) State(name string) *cellInfo {
	if c, ok := r.Cells[name]; ok {
		return &c
	}
	return nil
}

type actionColumn struct {
	ID           string         `json:"id"`
	Name         string         `json:"name"`
	Status       string         `json:"status"`
	StatusReason string         `json:"status_reason"`
	StatusDetail string         `json:"status_detail"`
	Action       actionSpec     `json:"action"`
	Cells        map[string]int `json:"cells"`
	Stats        runCounts      `json:"stats"`
}

// showValue writes a cell's JSON value for reading: numbers without
// exponent, text as is, anything else as JSON.
func showValue(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		if v {
			return "true"
		}
		return "false"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

// formValue turns what was typed for a column into the JSON value the API
// expects for its type. What does not read as that type is sent as typed, so
// that the API's own validation names the problem.
func formValue(typ, s string) any {
	switch typ {
	case "number":
		if f, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
			return f
		}
	case "boolean":
		if b, err := strconv.ParseBool(strings.TrimSpace(s)); err == nil {
			return b
		}
	case "json":
		var v any
		if json.Unmarshal([]byte(s), &v) == nil {
			return v
		}
	}
	return s
}

// tables lists the workspace's tables and offers to create one.
func (h *Handler) tables(w http.ResponseWriter, r *http.Request, s *session) {
	h.renderTables(w, r, s, http.StatusOK, nil, nil)
}

func (h *Handler) renderTables(w http.ResponseWriter, r *http.Request, s *session, status int, form url.Values, p *problem) {
	var out struct {
		Tables []tableInfo `json:"tables"`
	}
	if err := h.call(r.Context(), s, "GET", "/tables", nil, &out); err != nil {
		h.errorPage(w, s, h.asProblem(r.Context(), err), "/")
		return
	}
	sort.Slice(out.Tables, func(i, j int) bool { return strings.ToLower(out.Tables[i].Name) < strings.ToLower(out.Tables[j].Name) })
	d := h.pageData(s, "Tables")
	d["Nav"] = "tables"
	d["Tables"] = out.Tables
	d["Types"] = columnTypes
	d["Notice"] = notices[r.URL.Query().Get("notice")]
	slots := newColumnSlots
	if n := len(form["column_name"]); n > slots {
		slots = n
	}
	cols := make([]column, slots)
	for i := range cols {
		cols[i].Type = "text"
		if i < len(form["column_name"]) {
			cols[i].Name = form["column_name"][i]
		}
		if i < len(form["column_type"]) {
			cols[i].Type = form["column_type"][i]
		}
	}
	d["NewColumns"] = cols
	d["Form"] = formValues{form}
	d["Problem"] = p
	d["Errors"] = columnErrors(p)
	h.render(w, status, "tables", d)
}

var indexedField = regexp.MustCompile(`^(\w+)\[(\d+)\](?:\.(\w+))?$`)

// columnErrors keys the API's "columns[i].name" errors by form slot, "column.i".
func columnErrors(p *problem) map[string]string {
	out := map[string]string{}
	if p == nil {
		return out
	}
	for _, e := range p.Errors {
		if m := indexedField.FindStringSubmatch(e.Field); m != nil && m[1] == "columns" {
			out["column."+m[2]] = e.Message
			continue
		}
		out[e.Field] = e.Message
	}
	return out
}

// createTable creates a table from a name and the filled-in column rows.
func (h *Handler) createTable(w http.ResponseWriter, r *http.Request, s *session) {
	names, types := r.PostForm["column_name"], r.PostForm["column_type"]
	cols := []column{}
	for i, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		typ := "text"
		if i < len(types) {
			typ = types[i]
		}
		cols = append(cols, column{Name: n, Type: typ})
	}
	var tb tableInfo
	err := h.call(r.Context(), s, "POST", "/tables", map[string]any{"name": strings.TrimSpace(r.PostFormValue("name")), "columns": cols}, &tb)
	if err != nil {
		p := h.asProblem(r.Context(), err)
		if p.Status != http.StatusUnprocessableEntity {
			h.errorPage(w, s, p, "/tables")
			return
		}
		// The API numbers the columns it was sent; the form shows them in those slots.
		form := url.Values{"name": {r.PostFormValue("name")}}
		for _, c := range cols {
			form.Add("column_name", c.Name)
			form.Add("column_type", c.Type)
		}
		h.renderTables(w, r, s, p.Status, form, p)
		return
	}
	http.Redirect(w, r, "/tables/"+url.PathEscape(tb.ID)+"?notice=table_created", http.StatusSeeOther)
}

// syncPanel is one of the table's syncs with its connection and history.
type syncPanel struct {
	Sync syncInfo
	Conn *conn
	Runs []runInfo
	More bool // the history holds more runs than shown
}

// Outbound reports whether the sync writes to the provider (it then has a dry run).
func (p syncPanel) Outbound() bool { return p.Sync.Direction == "outbound" }

// ScheduleLabel is the schedule in words.
func (p syncPanel) ScheduleLabel() string { return scheduleLabel(p.Sync.Schedule) }

func scheduleLabel(s string) string {
	switch {
	case s == "" || s == "manual":
		return "Manual (Sync now only)"
	case s == "realtime":
		return "Realtime"
	case strings.HasPrefix(s, "every:"):
		return "Every " + strings.TrimPrefix(s, "every:")
	}
	return s
}

// StateLabel says whether the sync runs, and why not when it does not.
func (p syncPanel) StateLabel() string {
	switch {
	case p.Sync.WaitingForReconnect:
		return "Waiting for reconnect"
	case p.Sync.Paused && p.Sync.PauseReason == "user":
		return "Paused"
	case p.Sync.Paused:
		return "Paused: " + strings.ReplaceAll(p.Sync.PauseReason, "_", " ")
	}
	return "Active"
}

// tablePage is everything the table page shows.
type tablePage struct {
	T       tableInfo
	Actions []actionColumn
	Rows    []rowInfo
	Next    string // cursor of the next page, empty on the last
	Paged   bool   // this is not the first page
	Syncs   []syncPanel
	Conns   map[string]*conn
	// Enrichment is the table's lookup budget; nil where enrichment is not wired.
	Enrichment *enrichmentInfo
}

// loadConnections returns the workspace's connections by id and the catalog
// entries, from the integrations view.
func (h *Handler) loadConnections(ctx context.Context, s *session) (map[string]*conn, []*integration, error) {
	var out integrationsAnswer
	if err := h.call(ctx, s, "GET", "/integrations", nil, &out); err != nil {
		return nil, nil, err
	}
	conns := map[string]*conn{}
	for _, it := range out.Integrations {
		for _, c := range it.Connections {
			conns[c.ID] = c
		}
	}
	return conns, out.Integrations, nil
}

func (h *Handler) loadTable(ctx context.Context, s *session, id, cursor string) (*tablePage, error) {
	tp := &tablePage{Paged: cursor != ""}
	base := "/tables/" + url.PathEscape(id)
	if err := h.call(ctx, s, "GET", base, nil, &tp.T); err != nil {
		return nil, err
	}
	var cols struct {
		ActionColumns []actionColumn `json:"action_columns"`
	}
	// Action columns exist only where enrichment is wired; without it the route is absent.
	if err := h.call(ctx, s, "GET", base+"/columns", nil, &cols); err == nil {
		tp.Actions = cols.ActionColumns
		tp.Enrichment = &enrichmentInfo{}
		if err := h.call(ctx, s, "GET", base+"/enrichment", nil, tp.Enrichment); err != nil {
			return nil, err
		}
	} else if p, ok := err.(*problem); !ok || p.Status != http.StatusNotFound {
		return nil, err
	}
	q := url.Values{"limit": {strconv.Itoa(rowsPerPage)}}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	var rows struct {
		Rows       []rowInfo `json:"rows"`
		NextCursor *string   `json:"next_cursor"`
	}
	if err := h.call(ctx, s, "GET", base+"/rows?"+q.Encode(), nil, &rows); err != nil {
		return nil, err
	}
	tp.Rows = rows.Rows
	if rows.NextCursor != nil {
		tp.Next = *rows.NextCursor
	}
	conns, _, err := h.loadConnections(ctx, s)
	if err != nil {
		return nil, err
	}
	tp.Conns = conns
	var ys struct {
		Syncs []syncInfo `json:"syncs"`
	}
	if err := h.call(ctx, s, "GET", base+"/syncs", nil, &ys); err != nil {
		return nil, err
	}
	for _, y := range ys.Syncs {
		var runs struct {
			Runs []runInfo `json:"runs"`
		}
		if err := h.call(ctx, s, "GET", "/syncs/"+url.PathEscape(y.ID)+"/runs", nil, &runs); err != nil {
			return nil, err
		}
		p := syncPanel{Sync: y, Conn: conns[y.ConnectionID], Runs: runs.Runs}
		if len(p.Runs) > runsShown {
			p.Runs, p.More = p.Runs[:runsShown], true
		}
		tp.Syncs = append(tp.Syncs, p)
	}
	return tp, nil
}

// table is a table's page: rows with paging, cell states, add a row, syncs.
func (h *Handler) table(w http.ResponseWriter, r *http.Request, s *session) {
	h.renderTable(w, r, s, http.StatusOK, nil, nil)
}

func (h *Handler) renderTable(w http.ResponseWriter, r *http.Request, s *session, status int, form url.Values, p *problem) {
	tp, err := h.loadTable(r.Context(), s, r.PathValue("id"), r.URL.Query().Get("cursor"))
	if err != nil {
		h.errorPage(w, s, h.asProblem(r.Context(), err), "/tables")
		return
	}
	d := h.pageData(s, tp.T.Name)
	d["Nav"] = "tables"
	d["P"] = tp
	d["Self"] = "/tables/" + tp.T.ID
	d["Notice"] = notices[r.URL.Query().Get("notice")]
	d["Form"] = formValues{form}
	d["Problem"] = p
	d["Errors"] = rowErrors(p)
	h.render(w, status, "table", d)
}

// rowErrors keys the API's "rows[0].values.<column>" errors by the add-row form's fields.
func rowErrors(p *problem) map[string]string {
	out := map[string]string{}
	if p == nil {
		return out
	}
	for _, e := range p.Errors {
		if col, ok := strings.CutPrefix(e.Field, "rows[0].values."); ok {
			out["value."+col] = e.Message
			continue
		}
		out[e.Field] = e.Message
	}
	return out
}

// addRow adds one row from the add-row form (a field per data column).
func (h *Handler) addRow(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	var tb tableInfo
	if err := h.call(r.Context(), s, "GET", "/tables/"+url.PathEscape(id), nil, &tb); err != nil {
		h.errorPage(w, s, h.asProblem(r.Context(), err), "/tables")
		return
	}
	values := map[string]any{}
	for _, c := range tb.Columns {
		v := r.PostFormValue("value." + c.Name)
		if strings.TrimSpace(v) == "" {
			continue
		}
		values[c.Name] = formValue(c.Type, v)
	}
	body := map[string]any{"rows": []any{map[string]any{"values": values}}}
	if err := h.call(r.Context(), s, "POST", "/tables/"+url.PathEscape(id)+"/rows", body, nil); err != nil {
		p := h.asProblem(r.Context(), err)
		if p.Status != http.StatusUnprocessableEntity {
			h.errorPage(w, s, p, "/tables/"+url.PathEscape(id))
			return
		}
		h.renderTable(w, r, s, p.Status, r.PostForm, p)
		return
	}
	http.Redirect(w, r, "/tables/"+url.PathEscape(id)+"?notice=row_added", http.StatusSeeOther)
}

// setSyncPaused pauses or resumes a sync (PATCH /syncs/{id} {"paused"}).
func (h *Handler) setSyncPaused(paused bool) func(http.ResponseWriter, *http.Request, *session) {
	notice := "sync_resumed"
	if paused {
		notice = "sync_paused"
	}
	return func(w http.ResponseWriter, r *http.Request, s *session) {
		var y syncInfo
		if err := h.call(r.Context(), s, "PATCH", "/syncs/"+url.PathEscape(r.PathValue("id")), map[string]any{"paused": paused}, &y); err != nil {
			h.actionFailed(w, r, s, err, back(r))
			return
		}
		h.answerAction(w, r, y.ConnectionID, "", "", notice, back(r))
	}
}

// planItem is one row of a dry run's plan.
type planItem struct {
	RowID      string            `json:"row_id"`
	Action     string            `json:"action"`
	ExternalID string            `json:"external_id"`
	MatchBy    string            `json:"match_by"`
	Fields     map[string]string `json:"fields"`
	Error      string            `json:"error"`
}

// MatchValue is the value the row is matched by at the provider (its
// e-mail, say), when the sync matches by a field the plan sends.
func (p planItem) MatchValue() string { return p.Fields[p.MatchBy] }

// ActionLabel is the plan's action in words.
func (p planItem) ActionLabel() string {
	switch p.Action {
	case "create":
		return "Create"
	case "update":
		return "Update"
	case "unchanged":
		return "No change"
	case "error":
		return "Cannot send"
	}
	return p.Action
}

// FieldList is the fields the plan would send, sorted by name.
func (p planItem) FieldList() []struct{ Name, Value string } {
	out := make([]struct{ Name, Value string }, 0, len(p.Fields))
	for k, v := range p.Fields {
		out = append(out, struct{ Name, Value string }{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// preview is the dry run of an outbound sync: what it would write, row by
// row, without writing anything.
func (h *Handler) preview(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	var y syncInfo
	if err := h.call(r.Context(), s, "GET", "/syncs/"+url.PathEscape(id), nil, &y); err != nil {
		h.errorPage(w, s, h.asProblem(r.Context(), err), back(r))
		return
	}
	var res struct {
		Plan []planItem `json:"plan"`
	}
	if err := h.call(r.Context(), s, "POST", "/syncs/"+url.PathEscape(id)+"/run", map[string]any{"dry_run": true}, &res); err != nil {
		h.errorPage(w, s, h.asProblem(r.Context(), err), "/tables/"+url.PathEscape(y.TableID))
		return
	}
	var tb tableInfo
	if err := h.call(r.Context(), s, "GET", "/tables/"+url.PathEscape(y.TableID), nil, &tb); err != nil {
		h.errorPage(w, s, h.asProblem(r.Context(), err), "/tables")
		return
	}
	h.renderPreview(w, r, s, &y, tb, res.Plan, nil)
}

// renderPreview shows a dry run's plan. With save (the edit form's fields)
// it previews unsaved changes and offers to save them.
func (h *Handler) renderPreview(w http.ResponseWriter, r *http.Request, s *session, y *syncInfo, tb tableInfo, plan []planItem, save url.Values) {
	counts := map[string]int{}
	for _, it := range plan {
		counts[it.Action]++
	}
	conns, _, err := h.loadConnections(r.Context(), s)
	if err != nil {
		h.errorPage(w, s, h.asProblem(r.Context(), err), "/tables")
		return
	}
	d := h.pageData(s, "Preview of "+y.Object+" sync")
	d["Nav"] = "tables"
	d["Y"], d["T"], d["Plan"], d["Counts"], d["Conn"] = y, tb, plan, counts, conns[y.ConnectionID]
	if save != nil {
		fields := map[string][]string{}
		for k, vs := range save {
			if k != "csrf_token" {
				fields[k] = vs
			}
		}
		fields["confirmed"] = []string{"1"}
		d["Save"] = fields
	}
	h.render(w, http.StatusOK, "preview", d)
}

// Pending reports whether any action column of the page still has cells to look up.
func (tp *tablePage) Pending() bool {
	for _, a := range tp.Actions {
		if a.Cells["pending"] > 0 {
			return true
		}
	}
	return false
}

// Running reports whether the sync's newest run is still going.
func (p syncPanel) Running() bool { return len(p.Runs) > 0 && p.Runs[0].Status == "running" }
