package filter

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"patchbay/internal/connector"
)

// Match evaluates e over a record's fields (nil e matches everything). A
// field that is absent, null or "" is empty: every comparison with it is
// false, only `is empty` is true. Strings compare without regard to case;
// a number or date literal compares the field as a number or an instant,
// and a field that does not read as one does not match.
func Match(e Expr, fields map[string]any) bool {
	switch e := e.(type) {
	case nil:
		return true
	case And:
		return Match(e.L, fields) && Match(e.R, fields)
	case Or:
		return Match(e.L, fields) || Match(e.R, fields)
	case Not:
		return !Match(e.X, fields)
	case Empty:
		_, ok := value(fields, e.Field)
		return ok == e.Not
	case Cmp:
		v, ok := value(fields, e.Field)
		if !ok {
			return false
		}
		c, ok := compare(v, e.Value)
		if !ok {
			return false
		}
		switch e.Op {
		case "=":
			return c == 0
		case "!=":
			return c != 0
		case "<":
			return c < 0
		case "<=":
			return c <= 0
		case ">":
			return c > 0
		case ">=":
			return c >= 0
		}
		return false
	case Contains:
		v, ok := value(fields, e.Field)
		return ok && strings.Contains(strings.ToLower(v), strings.ToLower(literalText(e.Value)))
	case In:
		v, ok := value(fields, e.Field)
		if !ok {
			return false
		}
		for _, l := range e.Values {
			if c, ok := compare(v, l); ok && c == 0 {
				return !e.Not
			}
		}
		return e.Not
	}
	return false
}

// value renders a field as text; ok is false when it is empty.
func value(fields map[string]any, name string) (string, bool) {
	v, ok := fields[name]
	if !ok || v == nil {
		return "", false
	}
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case float64:
		s = strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		s = strconv.FormatBool(v)
	case time.Time:
		s = v.UTC().Format(time.RFC3339Nano)
	default:
		b, _ := json.Marshal(v)
		s = string(b)
	}
	return s, s != ""
}

func literalText(l Literal) string {
	switch l.Kind {
	case Number:
		return strconv.FormatFloat(l.Num, 'f', -1, 64)
	case Date:
		return l.Raw
	}
	return l.Str
}

func compare(v string, l Literal) (int, bool) {
	switch l.Kind {
	case Number:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return 0, false
		}
		return cmp3(f < l.Num, f > l.Num), true
	case Date:
		t, ok := instant(v)
		if !ok {
			return 0, false
		}
		return t.Compare(l.Time), true
	}
	return strings.Compare(strings.ToLower(v), strings.ToLower(l.Str)), true
}

func cmp3(less, more bool) int {
	switch {
	case less:
		return -1
	case more:
		return 1
	}
	return 0
}

// instant reads what providers send as a date: epoch milliseconds, RFC 3339 or a date.
func instant(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms).UTC(), true
	}
	t, ok := parseDate(s)
	return t, ok
}

// maxGroups bounds the normal form a filter may expand to for push-down.
const maxGroups = 32

// Plan splits a filter into what can be handed to a provider and whether
// the filter must still be evaluated locally. A filter made only of
// comparisons, in, and is empty (with and, or, not) is pushed whole; for a
// top-level and with some parts that cannot be pushed (contains), the other
// parts are pushed to narrow the read and the whole filter runs locally.
func Plan(e Expr) (push connector.Filter, local bool) {
	if e == nil {
		return nil, false
	}
	if f, ok := dnf(e, false); ok {
		return f, false
	}
	var pushable []Expr
	for _, c := range conjuncts(e) {
		if _, ok := dnf(c, false); ok {
			pushable = append(pushable, c)
		}
	}
	if len(pushable) == 0 {
		return nil, true
	}
	all := pushable[0]
	for _, c := range pushable[1:] {
		all = And{all, c}
	}
	f, ok := dnf(all, false)
	if !ok {
		return nil, true
	}
	return f, true
}

func conjuncts(e Expr) []Expr {
	if a, ok := e.(And); ok {
		return append(conjuncts(a.L), conjuncts(a.R)...)
	}
	return []Expr{e}
}

var cmpOps = map[string]connector.Op{"=": connector.OpEq, "!=": connector.OpNeq, "<": connector.OpLt, "<=": connector.OpLte, ">": connector.OpGt, ">=": connector.OpGte}
var negated = map[string]string{"=": "!=", "!=": "=", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}

// dnf turns e (negated when neg) into OR-of-AND form; false when a part has
// no provider-neutral equivalent or the form grows past maxGroups. Negation
// keeps the meaning of emptiness: not (a = "x") holds for an empty a, so it
// becomes (a != "x") or (a is empty). A negated number or date comparison
// stays local: it also holds for a value that is not a number or a date.
func dnf(e Expr, neg bool) (connector.Filter, bool) {
	switch e := e.(type) {
	case Not:
		return dnf(e.X, !neg)
	case And:
		if neg {
			return dnf(Or{Not{e.L}, Not{e.R}}, false)
		}
		l, ok := dnf(e.L, false)
		if !ok {
			return nil, false
		}
		r, ok := dnf(e.R, false)
		if !ok || len(l)*len(r) > maxGroups {
			return nil, false
		}
		var out connector.Filter
		for _, a := range l {
			for _, b := range r {
				out = append(out, append(append([]connector.Condition{}, a...), b...))
			}
		}
		return out, true
	case Or:
		if neg {
			return dnf(And{Not{e.L}, Not{e.R}}, false)
		}
		l, ok := dnf(e.L, false)
		if !ok {
			return nil, false
		}
		r, ok := dnf(e.R, false)
		if !ok || len(l)+len(r) > maxGroups {
			return nil, false
		}
		return append(l, r...), true
	case Empty:
		op := connector.OpEmpty
		if e.Not != neg {
			op = connector.OpNotEmpty
		}
		return connector.Filter{{{Field: e.Field, Op: op}}}, true
	case Cmp:
		if neg && e.Value.Kind != String {
			return nil, false // a value that does not read as a number or date fails both a = 1 and a != 1
		}
		if !neg {
			return connector.Filter{{{Field: e.Field, Op: cmpOps[e.Op], Values: []any{litValue(e.Value)}}}}, true
		}
		return connector.Filter{
			{{Field: e.Field, Op: cmpOps[negated[e.Op]], Values: []any{litValue(e.Value)}}},
			{{Field: e.Field, Op: connector.OpEmpty}},
		}, true
	case In:
		if neg && slices.ContainsFunc(e.Values, func(l Literal) bool { return l.Kind != String }) {
			return nil, false
		}
		vals := make([]any, len(e.Values))
		for i, v := range e.Values {
			vals[i] = litValue(v)
		}
		op := connector.OpIn
		if e.Not != neg {
			op = connector.OpNotIn
		}
		if !neg {
			return connector.Filter{{{Field: e.Field, Op: op, Values: vals}}}, true
		}
		return connector.Filter{{{Field: e.Field, Op: op, Values: vals}}, {{Field: e.Field, Op: connector.OpEmpty}}}, true
	}
	return nil, false
}

func litValue(l Literal) any {
	switch l.Kind {
	case Number:
		return l.Num
	case Date:
		return l.Time
	}
	return l.Str
}

// Describe renders a pushed-down filter for logs and tests.
func Describe(f connector.Filter) string {
	groups := make([]string, len(f))
	for i, g := range f {
		conds := make([]string, len(g))
		for j, c := range g {
			vals := make([]string, len(c.Values))
			for k, v := range c.Values {
				switch v := v.(type) {
				case time.Time:
					vals[k] = v.Format(time.RFC3339)
				case string:
					vals[k] = strconv.Quote(v)
				default:
					vals[k] = fmt.Sprint(v)
				}
			}
			conds[j] = strings.TrimSpace(c.Field + " " + string(c.Op) + " " + strings.Join(vals, ","))
		}
		groups[i] = strings.Join(conds, " AND ")
	}
	return strings.Join(groups, " | ")
}
