package hubspot

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"patchbay/internal/fakes/fakekit"
)

// Limits of HubSpot's CRM search.
const (
	defaultSearchLimit = 10
	maxSearchLimit     = 200
	maxFilterGroups    = 5
	maxFiltersPerGroup = 6
	maxFilters         = 18
)

type searchRequest struct {
	FilterGroups []struct {
		Filters []searchFilter `json:"filters"`
	} `json:"filterGroups"`
	Sorts      []json.RawMessage `json:"sorts"`
	Query      string            `json:"query"`
	Properties []string          `json:"properties"`
	Limit      int               `json:"limit"`
	After      any               `json:"after"` // a string at HubSpot; numbers are accepted too
}

type searchFilter struct {
	PropertyName string `json:"propertyName"`
	Operator     string `json:"operator"`
	Value        any    `json:"value"`
	HighValue    any    `json:"highValue"`
	Values       []any  `json:"values"`
}

var operators = []string{"EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN",
	"HAS_PROPERTY", "NOT_HAS_PROPERTY", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"}

// valueless operators take no value (IN and NOT_IN take values instead).
var valueless = []string{"HAS_PROPERTY", "NOT_HAS_PROPERTY", "IN", "NOT_IN"}

func (f *Fake) search(w http.ResponseWriter, r *http.Request, c fakekit.Call, def *objectDef) {
	// Search has its own, stricter limit on top of the account's.
	if !f.kit.Admit(w, r, c, "search", f.o.SearchRateLimit, time.Second) {
		return
	}
	var req searchRequest
	if err := decodeJSON(r, &req); err != nil {
		err.write(w)
		return
	}
	offset, sortProp, desc, err := checkSearch(def, &req, f.o.SearchResultLimit)
	if err != nil {
		err.write(w)
		return
	}
	var hits []fakekit.Record
	for _, rec := range f.kit.Records(c.Account, def.name).All() {
		if matchesSearch(def, rec, &req) {
			hits = append(hits, rec)
		}
	}
	if sortProp != "" {
		sortHits(def, hits, sortProp, desc)
	}
	end := min(offset+req.Limit, len(hits))
	results := make([]apiObject, 0, max(end-offset, 0))
	for _, rec := range hits[min(offset, len(hits)):end] {
		results = append(results, def.render(rec, req.Properties))
	}
	body := map[string]any{"total": len(hits), "results": results}
	if end < len(hits) {
		next := strconv.Itoa(end)
		body["paging"] = map[string]any{"next": map[string]string{"after": next, "link": "?after=" + next}}
	}
	fakekit.WriteJSON(w, http.StatusOK, body)
}

// sortKey is a record's sort property, parsed once: sorting thousands of
// records would otherwise parse the same instants millions of times.
type sortKey struct {
	has  bool
	t    time.Time
	isT  bool
	f    float64
	isF  bool
	text string
}

func newSortKey(typ, v string, has bool) sortKey {
	k := sortKey{has: has, text: strings.ToLower(v)}
	switch typ {
	case "datetime":
		k.t, k.isT = parseInstant(v)
	case "number":
		var err error
		k.f, err = strconv.ParseFloat(v, 64)
		k.isF = err == nil
	}
	return k
}

func (a sortKey) compare(b sortKey) int {
	switch {
	case a.isT && b.isT:
		return a.t.Compare(b.t)
	case a.isF && b.isF:
		return cmp.Compare(a.f, b.f)
	}
	return strings.Compare(a.text, b.text)
}

// sortHits orders records by a property, keeping id order among equals;
// records without the property come last in either direction.
func sortHits(def *objectDef, hits []fakekit.Record, prop string, desc bool) {
	p, _ := def.prop(prop)
	keys := make(map[string]sortKey, len(hits))
	for _, r := range hits {
		v, ok := def.value(r, prop)
		keys[r.ID] = newSortKey(p.Type, v, ok)
	}
	slices.SortStableFunc(hits, func(a, b fakekit.Record) int {
		ka, kb := keys[a.ID], keys[b.ID]
		switch {
		case !ka.has || !kb.has:
			return cmp.Compare(boolInt(!ka.has), boolInt(!kb.has))
		case desc:
			return kb.compare(ka)
		}
		return ka.compare(kb)
	})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// checkSearch validates a search request against HubSpot's limits and
// returns the offset and the sort to apply.
func checkSearch(def *objectDef, req *searchRequest, resultLimit int) (offset int, sortProp string, desc bool, err *apiError) {
	if req.Limit == 0 {
		req.Limit = defaultSearchLimit
	}
	if req.Limit < 1 || req.Limit > maxSearchLimit {
		return 0, "", false, invalid(fmt.Sprintf("limit must be from 1 to %d.", maxSearchLimit), nil)
	}
	if after := fakekit.Stringify(req.After); after != "" {
		n, convErr := strconv.Atoi(after)
		if convErr != nil || n < 0 {
			return 0, "", false, invalid("after must be the paging value of a previous search.", nil)
		}
		offset = n
	}
	if offset+req.Limit > resultLimit {
		return 0, "", false, invalid(fmt.Sprintf("Search results stop at %d records; narrow the filters, for example by the last modified date.", resultLimit), nil)
	}
	if len(req.FilterGroups) > maxFilterGroups {
		return 0, "", false, invalid(fmt.Sprintf("At most %d filterGroups are allowed.", maxFilterGroups), nil)
	}
	total := 0
	for _, g := range req.FilterGroups {
		total += len(g.Filters)
		if len(g.Filters) > maxFiltersPerGroup || total > maxFilters {
			return 0, "", false, invalid(fmt.Sprintf("At most %d filters per group and %d in all are allowed.", maxFiltersPerGroup, maxFilters), nil)
		}
		for _, flt := range g.Filters {
			if e := checkFilter(def, flt); e != nil {
				return 0, "", false, e
			}
		}
	}
	if len(req.Sorts) > 1 {
		return 0, "", false, invalid("Only one sort is allowed.", nil)
	}
	if len(req.Sorts) == 1 {
		sortProp, desc = parseSort(req.Sorts[0])
		if _, ok := def.prop(sortProp); !ok {
			return 0, "", false, invalid(fmt.Sprintf("Cannot sort by %q: no such property on %s.", sortProp, def.name), nil)
		}
	}
	return offset, sortProp, desc, nil
}

func checkFilter(def *objectDef, flt searchFilter) *apiError {
	if _, ok := def.prop(flt.PropertyName); !ok {
		return invalid(fmt.Sprintf("There was a problem with the request: property %q does not exist on %s.", flt.PropertyName, def.name), nil)
	}
	switch {
	case !slices.Contains(operators, flt.Operator):
		return invalid(fmt.Sprintf("Unknown filter operator %q.", flt.Operator), nil)
	case (flt.Operator == "IN" || flt.Operator == "NOT_IN") && len(flt.Values) == 0:
		return invalid(flt.Operator+" filters need values.", nil)
	case flt.Operator == "BETWEEN" && (flt.Value == nil || flt.HighValue == nil):
		return invalid("BETWEEN filters need value and highValue.", nil)
	case !slices.Contains(valueless, flt.Operator) && flt.Value == nil:
		return invalid(flt.Operator+" filters need a value.", nil)
	}
	return nil
}

// parseSort reads a sort given as {"propertyName","direction"} or as a
// property name, "-name" meaning descending.
func parseSort(raw json.RawMessage) (string, bool) {
	var s struct {
		PropertyName string `json:"propertyName"`
		Direction    string `json:"direction"`
	}
	if json.Unmarshal(raw, &s) == nil {
		return s.PropertyName, strings.EqualFold(s.Direction, "DESCENDING")
	}
	var name string
	_ = json.Unmarshal(raw, &name)
	if n, ok := strings.CutPrefix(name, "-"); ok {
		return n, true
	}
	return name, false
}

// matchesSearch applies the free-text query and the filter groups: groups
// are ORed, the filters of a group ANDed.
func matchesSearch(def *objectDef, rec fakekit.Record, req *searchRequest) bool {
	if q := strings.ToLower(strings.TrimSpace(req.Query)); q != "" {
		found := false
		for _, v := range rec.Fields {
			if strings.Contains(strings.ToLower(v), q) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	if len(req.FilterGroups) == 0 {
		return true
	}
	for _, g := range req.FilterGroups {
		all := true
		for _, flt := range g.Filters {
			if !matchesFilter(def, rec, flt) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

func matchesFilter(def *objectDef, rec fakekit.Record, flt searchFilter) bool {
	v, has := def.value(rec, flt.PropertyName)
	has = has && v != ""
	switch flt.Operator {
	case "HAS_PROPERTY":
		return has
	case "NOT_HAS_PROPERTY":
		return !has
	}
	if !has {
		return false
	}
	p, _ := def.prop(flt.PropertyName)
	target := fakekit.Stringify(flt.Value)
	c := compareValues(p.Type, v, target)
	switch flt.Operator {
	case "EQ":
		return c == 0
	case "NEQ":
		return c != 0
	case "LT":
		return c < 0
	case "LTE":
		return c <= 0
	case "GT":
		return c > 0
	case "GTE":
		return c >= 0
	case "BETWEEN":
		return c >= 0 && compareValues(p.Type, v, fakekit.Stringify(flt.HighValue)) <= 0
	case "IN", "NOT_IN":
		in := slices.ContainsFunc(flt.Values, func(x any) bool { return compareValues(p.Type, v, fakekit.Stringify(x)) == 0 })
		return in == (flt.Operator == "IN")
	case "CONTAINS_TOKEN":
		return containsToken(v, target)
	case "NOT_CONTAINS_TOKEN":
		return !containsToken(v, target)
	}
	return false
}

// compareValues compares two property values the way the property's type
// orders them: instants (ISO 8601 or epoch milliseconds), numbers, or text
// without regard to case. Values that do not parse compare as text.
func compareValues(typ, a, b string) int {
	return newSortKey(typ, a, true).compare(newSortKey(typ, b, true))
}

func parseInstant(s string) (time.Time, bool) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms), true
	}
	for _, layout := range []string{time.RFC3339Nano, time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// containsToken is HubSpot's word match: a token matches a whole word of the
// value, "*" is a wildcard, and a token with punctuation (an e-mail domain)
// matches as a substring.
func containsToken(value, token string) bool {
	v, t := strings.ToLower(value), strings.ToLower(token)
	words := strings.FieldsFunc(v, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	switch {
	case strings.Contains(t, "*"):
		if ok, _ := path.Match(t, v); ok {
			return true
		}
		return slices.ContainsFunc(words, func(w string) bool { ok, _ := path.Match(t, w); return ok })
	case strings.IndexFunc(t, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) >= 0:
		return strings.Contains(v, t)
	}
	return slices.Contains(words, t)
}
