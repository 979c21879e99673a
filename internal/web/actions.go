package web

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Action columns from the table page: the form that creates or edits one
// (the lookup first, then the data-provider connections in waterfall order,
// the input columns, the output columns, the run condition and the table's
// daily budget), and per column its counts, a found / not found / failed bar,
// rerun and delete.

// waterfallSlots is how many providers the form offers to ask in order.
const waterfallSlots = 3

// lookupInfo is one enrichment call a provider offers.
type lookupInfo struct {
	Name    string   `json:"name"`
	Inputs  []string `json:"inputs"`
	Outputs []string `json:"outputs"`
}

// lookupLabels are the catalog's lookups in words.
var lookupLabels = map[string]string{
	"company_by_domain":  "Company by domain",
	"person_by_email":    "Person by e-mail",
	"contact_by_company": "Contact by company name",
}

// Label is the lookup in words.
func (l lookupInfo) Label() string {
	if s, ok := lookupLabels[l.Name]; ok {
		return s
	}
	return strings.ReplaceAll(l.Name, "_", " ")
}

type actionSpec struct {
	ConnectionIDs []string          `json:"connection_ids"`
	Lookup        string            `json:"lookup"`
	Inputs        map[string]string `json:"inputs"`
	Outputs       map[string]string `json:"outputs"`
	RunIf         *struct {
		Empty  string `json:"empty"`
		Filter string `json:"filter"`
	} `json:"run_if"`
}

type runCounts struct {
	Queued    int `json:"queued"`
	CacheHits int `json:"cache_hits"`
	Lookups   int `json:"lookups"`
	Found     int `json:"found"`
	NotFound  int `json:"not_found"`
	Failed    int `json:"failed"`
	Skipped   int `json:"skipped"`
}

type enrichmentInfo struct {
	DailyLookupBudget int `json:"daily_lookup_budget"`
	LookupsToday      int `json:"lookups_today"`
}

// BudgetLeft says what is left of today's lookups.
func (e enrichmentInfo) BudgetLeft() string {
	if e.DailyLookupBudget == 0 {
		return "no daily limit"
	}
	return fmt.Sprintf("%d of %d left today", max(e.DailyLookupBudget-e.LookupsToday, 0), e.DailyLookupBudget)
}

// barPart is one segment of an action column's state bar (an SVG rect).
type barPart struct {
	Class, Label string
	N            int
	X, W         float64
}

// Bar is the column's cells by state, as segments of a 100-wide bar.
func (a actionColumn) Bar() []barPart {
	parts := []barPart{{Class: "done", Label: "found"}, {Class: "not_found", Label: "not found"}, {Class: "failed", Label: "failed"}, {Class: "pending", Label: "pending"}}
	total := 0
	for i := range parts {
		parts[i].N = a.Cells[parts[i].Class]
		total += parts[i].N
	}
	x := 0.0
	for i := range parts {
		if total > 0 {
			parts[i].W = 100 * float64(parts[i].N) / float64(total)
		}
		parts[i].X = x
		x += parts[i].W
	}
	return parts
}

// ProviderNames names the waterfall's connections in order.
func (a actionColumn) ProviderNames(conns map[string]*conn) string {
	var out []string
	for _, id := range a.Action.ConnectionIDs {
		if c := conns[id]; c != nil {
			out = append(out, c.ProviderName+" ("+c.AccountLabel()+")")
		} else {
			out = append(out, id)
		}
	}
	return strings.Join(out, " → ")
}

// LookupLabel is the column's lookup in words.
func (a actionColumn) LookupLabel() string { return lookupInfo{Name: a.Action.Lookup}.Label() }

// providerConn is a connection that offers lookups.
type providerConn struct {
	Conn    *conn
	Lookups []lookupInfo
}

// actionForm is the create / edit page of an action column.
type actionForm struct {
	T         tableInfo
	Edit      *actionColumn
	Lookups   []lookupInfo // every lookup some connection offers
	Lookup    *lookupInfo  // the chosen one
	Providers []*conn      // the connections offering the chosen lookup
	Form      formValues
	Errors    map[string]string
	Problem   *problem
	Slots     []int
}

// Action is where the form posts.
func (f *actionForm) Action() string {
	if f.Edit != nil {
		return "/tables/" + url.PathEscape(f.T.ID) + "/columns/" + url.PathEscape(f.Edit.ID) + "/edit"
	}
	return "/tables/" + url.PathEscape(f.T.ID) + "/columns"
}

// Value is the submitted value of a field, or def on a fresh form.
func (f *actionForm) Value(name, def string) string {
	if f.Form.Values == nil || !f.Form.Has("sent") {
		return def
	}
	return f.Form.Get(name)
}

// Provider is the connection picked for waterfall slot i (0-based): on a
// fresh form the first slot has the first provider.
func (f *actionForm) Provider(i int) string {
	if f.Form.Values == nil || !f.Form.Has("sent") {
		if i == 0 && len(f.Providers) > 0 {
			return f.Providers[0].ID
		}
		return ""
	}
	return f.Form.Get("provider." + strconv.Itoa(i+1))
}

// Input is the column picked for a lookup input: on a fresh form the column
// of the same name, or one that contains it.
func (f *actionForm) Input(in string) string {
	if f.Form.Values != nil && f.Form.Has("sent") {
		return f.Form.Get("input." + in)
	}
	for _, c := range f.T.Columns {
		if strings.EqualFold(c.Name, in) {
			return c.Name
		}
	}
	for _, c := range f.T.Columns {
		if strings.Contains(strings.ToLower(c.Name), in) {
			return c.Name
		}
	}
	return ""
}

// OutputDefault is a fresh form's column for an output: empty (not written).
func (f *actionForm) Output(out string) string { return f.Value("output."+out, "") }

func (h *Handler) newActionColumn(w http.ResponseWriter, r *http.Request, s *session) {
	h.renderActionForm(w, r, s, http.StatusOK, r.PathValue("id"), nil, r.URL.Query(), nil)
}

func (h *Handler) renderActionForm(w http.ResponseWriter, r *http.Request, s *session, status int, tableID string, edit *actionColumn, form url.Values, p *problem) {
	f := &actionForm{Edit: edit, Errors: map[string]string{}, Problem: p, Form: formValues{form}}
	for i := range waterfallSlots {
		f.Slots = append(f.Slots, i)
	}
	if err := h.call(r.Context(), s, "GET", "/tables/"+url.PathEscape(tableID), nil, &f.T); err != nil {
		h.errorPage(w, s, h.asProblem(r.Context(), err), "/tables")
		return
	}
	_, its, err := h.loadConnections(r.Context(), s)
	if err != nil {
		h.errorPage(w, s, h.asProblem(r.Context(), err), "/tables/"+url.PathEscape(tableID))
		return
	}
	chosen := form.Get("lookup")
	seen := map[string]bool{}
	for _, it := range its {
		for _, l := range it.Lookups {
			live := slices.ContainsFunc(it.Connections, func(c *conn) bool { return c.Live() })
			if !live {
				continue
			}
			if !seen[l.Name] {
				seen[l.Name] = true
				f.Lookups = append(f.Lookups, l)
			}
			if l.Name == chosen {
				if f.Lookup == nil {
					f.Lookup = &lookupInfo{Name: l.Name, Inputs: l.Inputs, Outputs: l.Outputs}
				}
				for _, c := range it.Connections {
					if c.Live() {
						f.Providers = append(f.Providers, c)
					}
				}
			}
		}
	}
	sort.Slice(f.Lookups, func(i, j int) bool { return f.Lookups[i].Label() < f.Lookups[j].Label() })
	if chosen != "" && f.Lookup == nil {
		f.Errors["lookup"] = "no live connection offers this lookup: connect a data provider first"
	}
	if p != nil {
		for _, e := range p.Errors {
			f.Errors[actionField(e.Field)] = e.Message
		}
	}
	title := "Add an action column to " + f.T.Name
	if edit != nil {
		title = "Edit the action column " + edit.Name
	}
	d := h.pageData(s, title)
	d["Nav"] = "tables"
	d["F"] = f
	h.render(w, status, "actioncolumn", d)
}

// actionField names the form input an API error field refers to.
func actionField(field string) string {
	field = strings.TrimPrefix(field, "action.")
	switch {
	case strings.HasPrefix(field, "connection_ids["):
		if i, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(field, "connection_ids["), "]")); err == nil {
			return "provider." + strconv.Itoa(i+1)
		}
		return "providers"
	case field == "connection_ids":
		return "providers"
	case strings.HasPrefix(field, "inputs."):
		return "input." + strings.TrimPrefix(field, "inputs.")
	case strings.HasPrefix(field, "outputs."):
		return "output." + strings.TrimPrefix(field, "outputs.")
	case field == "run_if.empty":
		return "run_if_empty"
	case field == "run_if.filter":
		return "run_if_filter"
	}
	return field
}

// actionBody turns the form into the API's action.
func actionBody(form url.Values) map[string]any {
	var ids []string
	for i := 1; i <= waterfallSlots; i++ {
		if id := form.Get("provider." + strconv.Itoa(i)); id != "" {
			ids = append(ids, id)
		}
	}
	inputs, outputs := map[string]string{}, map[string]string{}
	for k, vs := range form {
		if in, ok := strings.CutPrefix(k, "input."); ok && strings.TrimSpace(vs[0]) != "" {
			inputs[in] = vs[0]
		}
		if out, ok := strings.CutPrefix(k, "output."); ok && strings.TrimSpace(vs[0]) != "" {
			outputs[out] = strings.TrimSpace(vs[0])
		}
	}
	action := map[string]any{"connection_ids": ids, "lookup": form.Get("lookup"), "inputs": inputs, "outputs": outputs}
	if e, f := form.Get("run_if_empty"), strings.TrimSpace(form.Get("run_if_filter")); e != "" || f != "" {
		action["run_if"] = map[string]string{"empty": e, "filter": f}
	}
	return action
}

// setBudget saves the table's daily lookup budget when the form sent one.
func (h *Handler) setBudget(r *http.Request, s *session, tableID string) *problem {
	v := strings.TrimSpace(r.PostFormValue("daily_budget"))
	if v == "" {
		v = "0"
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return &problem{Status: http.StatusUnprocessableEntity, Title: "Invalid input", Detail: "the daily budget is not a whole number",
			Errors: []fieldError{{Field: "daily_budget", Message: "Lookups per day: a whole number, 0 for no limit"}}}
	}
	if err := h.call(r.Context(), s, "PATCH", "/tables/"+url.PathEscape(tableID)+"/enrichment", map[string]any{"daily_lookup_budget": n}, nil); err != nil {
		return h.asProblem(r.Context(), err)
	}
	return nil
}

func (h *Handler) createActionColumn(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	if p := h.setBudget(r, s, id); p != nil {
		h.renderActionForm(w, r, s, p.Status, id, nil, r.PostForm, p)
		return
	}
	body := map[string]any{"name": strings.TrimSpace(r.PostFormValue("name")), "type": "action", "action": actionBody(r.PostForm)}
	if err := h.call(r.Context(), s, "POST", "/tables/"+url.PathEscape(id)+"/columns", body, nil); err != nil {
		p := h.asProblem(r.Context(), err)
		if p.Status != http.StatusUnprocessableEntity {
			h.errorPage(w, s, p, "/tables/"+url.PathEscape(id))
			return
		}
		h.renderActionForm(w, r, s, p.Status, id, nil, r.PostForm, p)
		return
	}
	http.Redirect(w, r, "/tables/"+url.PathEscape(id)+"?notice=action_created", http.StatusSeeOther)
}

func (h *Handler) loadActionColumn(r *http.Request, s *session) (*actionColumn, error) {
	var a actionColumn
	err := h.call(r.Context(), s, "GET", "/tables/"+url.PathEscape(r.PathValue("id"))+"/columns/"+url.PathEscape(r.PathValue("col")), nil, &a)
	return &a, err
}

// actionEditForm fills the form from a saved column.
func actionEditForm(a *actionColumn, budget int) url.Values {
	f := url.Values{"sent": {"1"}, "name": {a.Name}, "lookup": {a.Action.Lookup}, "daily_budget": {strconv.Itoa(budget)}}
	for i, id := range a.Action.ConnectionIDs {
		f.Set("provider."+strconv.Itoa(i+1), id)
	}
	for in, col := range a.Action.Inputs {
		f.Set("input."+in, col)
	}
	for out, col := range a.Action.Outputs {
		f.Set("output."+out, col)
	}
	if ri := a.Action.RunIf; ri != nil {
		f.Set("run_if_empty", ri.Empty)
		f.Set("run_if_filter", ri.Filter)
	}
	return f
}

func (h *Handler) editActionColumn(w http.ResponseWriter, r *http.Request, s *session) {
	a, err := h.loadActionColumn(r, s)
	if err != nil {
		h.errorPage(w, s, h.asProblem(r.Context(), err), "/tables/"+url.PathEscape(r.PathValue("id")))
		return
	}
	var es enrichmentInfo
	if err := h.call(r.Context(), s, "GET", "/tables/"+url.PathEscape(r.PathValue("id"))+"/enrichment", nil, &es); err != nil {
		h.errorPage(w, s, h.asProblem(r.Context(), err), "/tables/"+url.PathEscape(r.PathValue("id")))
		return
	}
	h.renderActionForm(w, r, s, http.StatusOK, r.PathValue("id"), a, actionEditForm(a, es.DailyLookupBudget), nil)
}

func (h *Handler) saveActionColumn(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	a, err := h.loadActionColumn(r, s)
	if err != nil {
		h.errorPage(w, s, h.asProblem(r.Context(), err), "/tables/"+url.PathEscape(id))
		return
	}
	r.PostForm.Set("name", a.Name)
	if p := h.setBudget(r, s, id); p != nil {
		h.renderActionForm(w, r, s, p.Status, id, a, r.PostForm, p)
		return
	}
	path := "/tables/" + url.PathEscape(id) + "/columns/" + url.PathEscape(a.ID)
	if err := h.call(r.Context(), s, "PATCH", path, map[string]any{"action": actionBody(r.PostForm)}, nil); err != nil {
		p := h.asProblem(r.Context(), err)
		if p.Status != http.StatusUnprocessableEntity {
			h.errorPage(w, s, p, "/tables/"+url.PathEscape(id))
			return
		}
		h.renderActionForm(w, r, s, p.Status, id, a, r.PostForm, p)
		return
	}
	http.Redirect(w, r, "/tables/"+url.PathEscape(id)+"?notice=action_saved", http.StatusSeeOther)
}

// rerunActionColumn queues the column's cells again: all, the failed or the empty ones.
func (h *Handler) rerunActionColumn(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	path := "/tables/" + url.PathEscape(id) + "/columns/" + url.PathEscape(r.PathValue("col")) + "/run"
	if err := h.call(r.Context(), s, "POST", path, map[string]any{"only": r.PostFormValue("only")}, nil); err != nil {
		h.errorPage(w, s, h.asProblem(r.Context(), err), "/tables/"+url.PathEscape(id))
		return
	}
	http.Redirect(w, r, "/tables/"+url.PathEscape(id)+"?notice=action_queued", http.StatusSeeOther)
}

func (h *Handler) deleteActionColumnPage(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	back := "/tables/" + url.PathEscape(id)
	a, err := h.loadActionColumn(r, s)
	if err != nil {
		h.errorPage(w, s, h.asProblem(r.Context(), err), back)
		return
	}
	var tb tableInfo
	if err := h.call(r.Context(), s, "GET", back, nil, &tb); err != nil {
		h.errorPage(w, s, h.asProblem(r.Context(), err), "/tables")
		return
	}
	var outs []string
	for _, col := range a.Action.Outputs {
		outs = append(outs, col)
	}
	sort.Strings(outs)
	h.renderConfirm(w, s, http.StatusOK, &confirmPage{
		Title:  "Delete the action column " + a.Name + "?",
		Crumbs: []crumb{{"/tables", "Tables"}, {back, tb.Name}},
		Lead:   "No more lookups for this column.",
		Goes:   []string{"the column's cell states and its run counts"},
		Keeps:  []string{"the values it wrote, in the columns " + strings.Join(outs, ", "), "cached answers (other columns may use them)"},
		Action: back + "/columns/" + url.PathEscape(a.ID) + "/delete", Button: "Delete action column", Return: back,
	}, nil)
}

func (h *Handler) deleteActionColumn(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	path := "/tables/" + url.PathEscape(id) + "/columns/" + url.PathEscape(r.PathValue("col"))
	if err := h.call(r.Context(), s, "DELETE", path, nil, nil); err != nil {
		h.errorPage(w, s, h.asProblem(r.Context(), err), "/tables/"+url.PathEscape(id))
		return
	}
	http.Redirect(w, r, "/tables/"+url.PathEscape(id)+"?notice=action_deleted", http.StatusSeeOther)
}
