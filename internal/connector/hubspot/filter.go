package hubspot

import (
	"strings"

	"patchbay/internal/connector"
)

var _ connector.Filterer = (*Connector)(nil)

// HubSpot's CRM search limits: filterGroups, filters per group, filters in all.
const (
	maxFilterGroups    = 5
	maxFiltersPerGroup = 6
	maxFilters         = 18
)

var searchOperators = map[connector.Op]string{
	connector.OpEq: "EQ", connector.OpNeq: "NEQ", connector.OpLt: "LT", connector.OpLte: "LTE", connector.OpGt: "GT",
	connector.OpGte: "GTE", connector.OpIn: "IN", connector.OpNotIn: "NOT_IN", connector.OpEmpty: "NOT_HAS_PROPERTY",
	connector.OpNotEmpty: "HAS_PROPERTY",
}

// CanFilter reports whether a search can apply f: every group also carries
// the last-modified condition that paging through a search relies on.
func (c *Connector) CanFilter(object string, f connector.Filter) bool {
	if len(f) == 0 || len(f) > maxFilterGroups {
		return len(f) == 0
	}
	total := 0
	for _, g := range f {
		if len(g)+1 > maxFiltersPerGroup {
			return false
		}
		total += len(g) + 1
		for _, cond := range g {
			if _, ok := searchOperators[cond.Op]; !ok || cond.Field == "" {
				return false
			}
		}
	}
	return total <= maxFilters
}

// filterGroups renders f with the modified-since condition in every group.
func filterGroups(f connector.Filter, since map[string]any) []any {
	if len(f) == 0 {
		return []any{map[string]any{"filters": []any{since}}}
	}
	groups := make([]any, 0, len(f))
	for _, g := range f {
		filters := []any{since}
		for _, cond := range g {
			flt := map[string]any{"propertyName": cond.Field, "operator": searchOperators[cond.Op]}
			switch cond.Op {
			case connector.OpIn, connector.OpNotIn:
				vals := make([]string, len(cond.Values))
				for i, v := range cond.Values {
					vals[i] = searchValue(cond.Op, v)
				}
				flt["values"] = vals
			case connector.OpEmpty, connector.OpNotEmpty:
			default:
				flt["value"] = searchValue(cond.Op, cond.Values[0])
			}
			filters = append(filters, flt)
		}
		groups = append(groups, map[string]any{"filters": filters})
	}
	return groups
}

// searchValue renders a value for a search: instants as epoch milliseconds;
// IN matches exact (lower-case) values at HubSpot, so text is lower-cased.
func searchValue(op connector.Op, v any) string {
	s := propertyValue(v)
	if op == connector.OpIn || op == connector.OpNotIn {
		return strings.ToLower(s)
	}
	return s
}
