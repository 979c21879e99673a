package mailchimp

import (
	"net/http"
	"strings"

	"patchbay/internal/fakes/fakekit"
)

// searchLimit is how many members each part of a search answer holds at
// most, as Mailchimp's search returns only its first matches.
const searchLimit = 10

// searchMembers is GET /search-members?query=…[&list_id=…]: members whose
// address or name is the query (exact_matches) and those whose address or
// name contains it (full_search), across the account's audiences or in one.
func (f *Fake) searchMembers(w http.ResponseWriter, r *http.Request, c fakekit.Call) {
	q := r.URL.Query()
	term := strings.ToLower(strings.TrimSpace(q.Get("query")))
	if term == "" {
		problem(w, http.StatusBadRequest, "Invalid Resource", "The resource submitted could not be validated.",
			map[string]string{"field": "query", "message": "This value should not be blank."})
		return
	}
	lists := f.Audiences(c.Account)
	if id := q.Get("list_id"); id != "" {
		l, ok := f.kit.Records(c.Account, "audiences").Get(id)
		if !ok {
			problem(w, http.StatusNotFound, "Resource Not Found", "The requested resource could not be found.")
			return
		}
		lists = []fakekit.Record{l}
	}
	exact, full := []map[string]any{}, []map[string]any{}
	for _, l := range lists {
		for _, m := range f.kit.Records(c.Account, membersObject(l.ID)).All() {
			texts := []string{m.Fields["email_address"], m.Fields["FNAME"], m.Fields["LNAME"],
				strings.TrimSpace(m.Fields["FNAME"] + " " + m.Fields["LNAME"])}
			isExact, contains := false, false
			for _, s := range texts {
				s = strings.ToLower(s)
				isExact = isExact || s != "" && s == term
				contains = contains || s != "" && strings.Contains(s, term)
			}
			switch {
			case isExact && len(exact) < searchLimit:
				exact = append(exact, renderMember(l.ID, m))
			case !isExact && contains && len(full) < searchLimit:
				full = append(full, renderMember(l.ID, m))
			}
		}
	}
	fakekit.WriteJSON(w, http.StatusOK, map[string]any{
		"exact_matches": map[string]any{"members": exact, "total_items": len(exact)},
		"full_search":   map[string]any{"members": full, "total_items": len(full)},
		"_links":        []any{},
	})
}
