package web

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// The sync setup form. Step one picks the direction and where the data
// comes from or goes to (a connection and one of its provider's objects);
// step two, on the same page, asks for the filter, the mapping (a provider
// field per table column, from the catalog's fields of that object), the
// match key and the schedule. The API checks everything when the sync is
// saved; its field errors are shown next to the inputs they name.

// sourceGroup is one connection the sync may use, with its provider's objects.
type sourceGroup struct {
	Conn    *conn
	Name    string // the provider's name
	Objects []objectInfo
}

// setupForm is the sync setup page's data.
type setupForm struct {
	T         tableInfo
	Direction string
	Source    string // "<connection id>:<object>"
	Groups    []sourceGroup
	Conn      *conn
	Provider  string
	Object    *objectInfo
	Form      formValues
	Errors    map[string]string
	Problem   *problem
	Caret     *filterCaret
	// Edit is the sync being edited; nil on the setup of a new one.
	Edit *syncInfo
}

// Action is where step two's form posts.
func (f *setupForm) Action() string {
	if f.Edit != nil {
		return "/syncs/" + url.PathEscape(f.Edit.ID) + "/edit"
	}
	return "/tables/" + url.PathEscape(f.T.ID) + "/syncs"
}

// Chosen reports whether step one is done (a known connection and object).
func (f *setupForm) Chosen() bool { return f.Object != nil }

// Inbound reports whether the sync reads from the provider into the table.
func (f *setupForm) Inbound() bool { return f.Direction != "outbound" }

// Mapped is the provider field picked for column col: what was submitted,
// or on a fresh form the field of the same name when the object has one.
func (f *setupForm) Mapped(col string) string {
	if f.Form.Values != nil && f.Form.Has("sent") {
		return f.Form.Get("map." + col)
	}
	for _, fl := range f.Object.Fields {
		if strings.EqualFold(fl, col) {
			return fl
		}
	}
	return ""
}

// Value is the submitted value of a field, or def on a fresh form.
func (f *setupForm) Value(name, def string) string {
	if f.Form.Values == nil || !f.Form.Has("sent") {
		return def
	}
	return f.Form.Get(name)
}

// MatchKeys are the outbound match keys: the record id Patchbay keeps, or
// one of the object's match fields.
func (f *setupForm) MatchKeys() []string {
	return append([]string{"external_id"}, f.Object.MatchFields...)
}

// filterCaret shows where in the filter the API found the error.
type filterCaret struct {
	Text   string
	Spaces string
}

var filterPosition = regexp.MustCompile(`^position (\d+):`)

// caretFor returns the caret line for a filter error message that carries a
// 1-based position, nil otherwise.
func caretFor(filter, message string) *filterCaret {
	m := filterPosition.FindStringSubmatch(message)
	if m == nil {
		return nil
	}
	pos, err := strconv.Atoi(m[1])
	if err != nil || pos < 1 || pos > len([]rune(filter))+1 {
		return nil
	}
	return &filterCaret{Text: filter, Spaces: strings.Repeat(" ", pos-1)}
}

// syncSetup is the sync setup page (GET, so that step one works without script).
func (h *Handler) syncSetup(w http.ResponseWriter, r *http.Request, s *session) {
	h.renderSetup(w, r, s, http.StatusOK, r.PathValue("id"), nil, r.URL.Query(), nil, nil)
}

// renderSetup shows the setup form of table id, or the edit form of sync edit.
func (h *Handler) renderSetup(w http.ResponseWriter, r *http.Request, s *session, status int, id string, edit *syncInfo, form url.Values, p *problem, order []string) {
	f := &setupForm{Direction: form.Get("direction"), Source: form.Get("source"), Errors: map[string]string{}, Problem: p, Edit: edit}
	if f.Direction != "outbound" {
		f.Direction = "inbound"
	}
	if err := h.call(r.Context(), s, "GET", "/tables/"+url.PathEscape(id), nil, &f.T); err != nil {
		h.errorPage(w, s, h.asProblem(r.Context(), err), "/tables")
		return
	}
	_, its, err := h.loadConnections(r.Context(), s)
	if err != nil {
		h.errorPage(w, s, h.asProblem(r.Context(), err), "/tables/"+url.PathEscape(id))
		return
	}
	connID, object, _ := strings.Cut(f.Source, ":")
	for _, it := range its {
		if len(it.ObjectDetails) == 0 {
			continue
		}
		for _, c := range it.visible() {
			// An edited sync keeps its connection, live or not.
			if !c.Live() && (edit == nil || c.ID != edit.ConnectionID) {
				continue
			}
			f.Groups = append(f.Groups, sourceGroup{Conn: c, Name: it.Name, Objects: it.ObjectDetails})
			if c.ID != connID {
				continue
			}
			for i := range it.ObjectDetails {
				if it.ObjectDetails[i].Name == object {
					f.Conn, f.Provider, f.Object = c, it.Name, &it.ObjectDetails[i]
				}
			}
		}
	}
	if f.Source != "" && f.Object == nil {
		f.Errors["source"] = "choose one of the connections and objects listed"
	}
	if f.Object != nil {
		f.Form = formValues{form}
	}
	if p != nil {
		for _, e := range p.Errors {
			f.Errors[setupField(e.Field, order)] = e.Message
		}
		if msg, ok := f.Errors["filter"]; ok {
			f.Caret = caretFor(form.Get("filter"), msg)
		}
	}
	title := "Set up a sync for " + f.T.Name
	if edit != nil {
		title = "Edit the " + f.Provider + " " + edit.Object + " sync of " + f.T.Name
	}
	d := h.pageData(s, title)
	d["Nav"] = "tables"
	d["F"] = f
	h.render(w, status, "syncsetup", d)
}

var mappingField = regexp.MustCompile(`^mapping\[(\d+)\]\.(source|target)$`)

// setupField names the form input an API error field refers to: mapping
// entries by the column they map, the connection and object by the source picker.
func setupField(field string, order []string) string {
	if m := mappingField.FindStringSubmatch(field); m != nil {
		if i, err := strconv.Atoi(m[1]); err == nil && i < len(order) {
			return "map." + order[i]
		}
		return "mapping"
	}
	switch field {
	case "connection_id", "object", "table_id":
		return "source"
	}
	return field
}

// createSync saves the sync from step two of the setup form.
func (h *Handler) createSync(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	var tb tableInfo
	if err := h.call(r.Context(), s, "GET", "/tables/"+url.PathEscape(id), nil, &tb); err != nil {
		h.errorPage(w, s, h.asProblem(r.Context(), err), "/tables")
		return
	}
	body, order := syncForm(tb, r.PostForm)
	body["table_id"] = tb.ID
	if p := badBatch(body); p != nil {
		h.renderSetup(w, r, s, p.Status, id, nil, r.PostForm, p, order)
		return
	}
	var y syncInfo
	if err := h.call(r.Context(), s, "POST", "/syncs", body, &y); err != nil {
		p := h.asProblem(r.Context(), err)
		if p.Status != http.StatusUnprocessableEntity {
			h.errorPage(w, s, p, "/tables/"+url.PathEscape(id))
			return
		}
		h.renderSetup(w, r, s, p.Status, id, nil, r.PostForm, p, order)
		return
	}
	http.Redirect(w, r, "/tables/"+url.PathEscape(id)+"?notice=sync_created", http.StatusSeeOther)
}

// syncForm turns step two of the form into the API's sync body (without the
// table), and names the column of each mapping entry, to place the API's errors.
// A test batch that is not a whole number stays text: badBatch refuses it.
func syncForm(tb tableInfo, form url.Values) (body map[string]any, order []string) {
	direction := form.Get("direction")
	connID, object, _ := strings.Cut(form.Get("source"), ":")
	mapping := []map[string]any{}
	for _, c := range tb.Columns {
		field := strings.TrimSpace(form.Get("map." + c.Name))
		if field == "" {
			continue
		}
		m := map[string]any{"source": field, "target": c.Name}
		if direction == "outbound" {
			m = map[string]any{"source": c.Name, "target": field}
		}
		if form.Get("overwrite."+c.Name) != "" {
			m["overwrite_empty"] = true
		}
		mapping = append(mapping, m)
		order = append(order, c.Name)
	}
	schedule := form.Get("schedule_kind")
	if schedule == "every" {
		if n := strings.TrimSpace(form.Get("every_minutes")); n != "" {
			schedule = "every:" + n + "m"
		}
	}
	body = map[string]any{"direction": direction, "connection_id": connID, "object": object,
		"mapping": mapping, "schedule": schedule, "max_records": 0}
	if n := strings.TrimSpace(form.Get("max_records")); n != "" {
		body["max_records"] = n // not a number: sent as typed, and refused below
		if v, err := strconv.Atoi(n); err == nil {
			body["max_records"] = v
		}
	}
	if direction == "outbound" {
		body["match_key"] = form.Get("match_key")
	} else {
		body["filter"] = form.Get("filter") // as typed: error positions refer to it
		body["mode"] = form.Get("mode")
	}
	return body, order
}

// badBatch is the refusal of a test batch that is not a whole number; nil when it is one.
func badBatch(body map[string]any) *problem {
	if _, ok := body["max_records"].(string); !ok {
		return nil
	}
	return &problem{Status: http.StatusUnprocessableEntity, Title: "Invalid input", Detail: "the test batch is not a whole number",
		Errors: []fieldError{{Field: "max_records", Message: "Records per run: a whole number, or empty for no limit"}}}
}
