package airtable

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"patchbay/internal/fakes/fakekit"
)

// The formula language the fake evaluates in filterByFormula: field
// references {Name}, 'string' and "string" literals, numbers, the operators
// = != < <= > >=, and the functions AND, OR, NOT, TRUE, FALSE, LOWER,
// RECORD_ID, CREATED_TIME, LAST_MODIFIED_TIME, IS_BEFORE, IS_AFTER and IS_SAME
// (to the second). Other formulas are refused as invalid, as Airtable refuses
// formulas it cannot parse.
type expr interface {
	eval(r fakekit.Record) any
}

type (
	lit     struct{ v any }
	fieldOf struct{ name string }
	binary  struct {
		op   string
		l, r expr
	}
	fn struct {
		name string
		args []expr
	}
)

func (e lit) eval(fakekit.Record) any { return e.v }

func (e fieldOf) eval(r fakekit.Record) any {
	v, ok := r.Fields[e.name]
	if !ok || v == "" {
		return nil
	}
	return decodeValue(v)
}

func (e binary) eval(r fakekit.Record) any {
	a, b := e.l.eval(r), e.r.eval(r)
	n, ok := cmp(a, b)
	switch e.op {
	case "=":
		return ok && n == 0 || a == nil && b == ""
	case "!=":
		return !(ok && n == 0 || a == nil && b == "")
	case "<":
		return ok && n < 0
	case "<=":
		return ok && n <= 0
	case ">":
		return ok && n > 0
	}
	return ok && n >= 0
}

func (e fn) eval(r fakekit.Record) any {
	args := make([]any, len(e.args))
	for i, a := range e.args {
		args[i] = a.eval(r)
	}
	switch e.name {
	case "AND":
		return !slices.ContainsFunc(args, func(v any) bool { return !truthy(v) })
	case "OR":
		return slices.ContainsFunc(args, truthy)
	case "NOT":
		return !truthy(args[0])
	case "TRUE":
		return true
	case "FALSE":
		return false
	case "LOWER":
		return strings.ToLower(fmt.Sprint(args[0]))
	case "FIND":
		// The 1-based position of the first argument in the second, 0 when absent.
		what, where := text(args[0]), text(args[1])
		i := strings.Index(where, what)
		if what == "" || i < 0 {
			return 0.0
		}
		return float64(utf8.RuneCountInString(where[:i]) + 1)
	case "RECORD_ID":
		return RecordID(r.ID)
	case "CREATED_TIME":
		return r.CreatedAt.UTC()
	case "LAST_MODIFIED_TIME":
		return r.UpdatedAt.UTC()
	}
	a, okA := toTime(args[0])
	b, okB := toTime(args[1])
	if !okA || !okB {
		return false
	}
	a, b = a.Truncate(time.Second), b.Truncate(time.Second)
	switch e.name {
	case "IS_BEFORE":
		return a.Before(b)
	case "IS_AFTER":
		return a.After(b)
	}
	return a.Equal(b) // IS_SAME
}

// arity is the number of arguments each function takes (-1: one or more).
var arity = map[string]int{"AND": -1, "OR": -1, "NOT": 1, "TRUE": 0, "FALSE": 0, "LOWER": 1, "FIND": 2, "RECORD_ID": 0,
	"CREATED_TIME": 0, "LAST_MODIFIED_TIME": 0, "IS_BEFORE": 2, "IS_AFTER": 2, "IS_SAME": 2}

// text is a value as a formula's text functions see it: blank for nil.
func text(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

func truthy(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case bool:
		return v
	case float64:
		return v != 0
	case string:
		return v != ""
	}
	return true
}

func toTime(v any) (time.Time, bool) {
	switch v := v.(type) {
	case time.Time:
		return v, true
	case string:
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02"} {
			if t, err := time.Parse(layout, v); err == nil {
				return t, true
			}
		}
	}
	return time.Time{}, false
}

// cmp compares two values of the same kind; ok is false when they cannot be compared.
func cmp(a, b any) (int, bool) {
	if ta, ok := a.(time.Time); ok {
		tb, ok := toTime(b)
		return ta.Compare(tb), ok
	}
	switch a := a.(type) {
	case float64:
		var bn float64
		switch b := b.(type) {
		case float64:
			bn = b
		case string:
			n, err := strconv.ParseFloat(b, 64)
			if err != nil {
				return 0, false
			}
			bn = n
		default:
			return 0, false
		}
		switch {
		case a < bn:
			return -1, true
		case a > bn:
			return 1, true
		}
		return 0, true
	case string:
		return strings.Compare(a, fmt.Sprint(b)), b != nil
	case bool:
		bb, ok := b.(bool)
		if !ok || a != bb {
			return 1, ok
		}
		return 0, true
	}
	return 0, false
}

type formulaParser struct {
	src string
	pos int
	t   table
}

// parseFormula parses a filterByFormula against a table's fields.
func parseFormula(src string, t table) (expr, error) {
	p := &formulaParser{src: src, t: t}
	e, err := p.comparison()
	if err != nil {
		return nil, err
	}
	if p.skip(); p.pos != len(p.src) {
		return nil, fmt.Errorf("unexpected %q at position %d", p.src[p.pos:], p.pos)
	}
	return e, nil
}

func (p *formulaParser) skip() {
	for p.pos < len(p.src) && strings.ContainsRune(" \t\r\n", rune(p.src[p.pos])) {
		p.pos++
	}
}

func (p *formulaParser) comparison() (expr, error) {
	l, err := p.primary()
	if err != nil {
		return nil, err
	}
	p.skip()
	for _, op := range []string{"!=", "<=", ">=", "=", "<", ">"} {
		if strings.HasPrefix(p.src[p.pos:], op) {
			p.pos += len(op)
			r, err := p.primary()
			if err != nil {
				return nil, err
			}
			return binary{op: op, l: l, r: r}, nil
		}
	}
	return l, nil
}

func (p *formulaParser) primary() (expr, error) {
	p.skip()
	if p.pos >= len(p.src) {
		return nil, fmt.Errorf("the formula ends too early")
	}
	switch c := p.src[p.pos]; {
	case c == '{':
		end := strings.IndexByte(p.src[p.pos:], '}')
		if end < 0 {
			return nil, fmt.Errorf("unclosed field reference")
		}
		name := p.src[p.pos+1 : p.pos+end]
		p.pos += end + 1
		if !slices.Contains(p.t.fields, name) {
			return nil, fmt.Errorf("unknown field name: %q", name)
		}
		return fieldOf{name}, nil
	case c == '\'' || c == '"':
		var b strings.Builder
		for i := p.pos + 1; i < len(p.src); i++ {
			switch p.src[i] {
			case '\\':
				if i+1 < len(p.src) {
					i++
					b.WriteByte(p.src[i])
				}
			case c:
				p.pos = i + 1
				return lit{b.String()}, nil
			default:
				b.WriteByte(p.src[i])
			}
		}
		return nil, fmt.Errorf("unclosed string")
	case c == '(':
		p.pos++
		e, err := p.comparison()
		if err != nil {
			return nil, err
		}
		if p.skip(); p.pos >= len(p.src) || p.src[p.pos] != ')' {
			return nil, fmt.Errorf("missing )")
		}
		p.pos++
		return e, nil
	case c == '-' || c >= '0' && c <= '9':
		start := p.pos
		p.pos++
		for p.pos < len(p.src) && (p.src[p.pos] == '.' || p.src[p.pos] >= '0' && p.src[p.pos] <= '9') {
			p.pos++
		}
		n, err := strconv.ParseFloat(p.src[start:p.pos], 64)
		if err != nil {
			return nil, fmt.Errorf("bad number %q", p.src[start:p.pos])
		}
		return lit{n}, nil
	}
	start := p.pos
	for p.pos < len(p.src) && (p.src[p.pos] == '_' || p.src[p.pos] >= 'A' && p.src[p.pos] <= 'Z' || p.src[p.pos] >= 'a' && p.src[p.pos] <= 'z') {
		p.pos++
	}
	name := strings.ToUpper(p.src[start:p.pos])
	want, known := arity[name]
	if p.skip(); !known || p.pos >= len(p.src) || p.src[p.pos] != '(' {
		return nil, fmt.Errorf("unknown function or value %q", p.src[start:p.pos])
	}
	p.pos++
	var args []expr
	for {
		if p.skip(); p.pos < len(p.src) && p.src[p.pos] == ')' && len(args) == 0 {
			p.pos++
			break
		}
		a, err := p.comparison()
		if err != nil {
			return nil, err
		}
		args = append(args, a)
		p.skip()
		if p.pos < len(p.src) && p.src[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.pos < len(p.src) && p.src[p.pos] == ')' {
			p.pos++
			break
		}
		return nil, fmt.Errorf("expected , or ) in %s()", name)
	}
	if want >= 0 && len(args) != want || want < 0 && len(args) == 0 {
		return nil, fmt.Errorf("%s() takes %d argument(s), got %d", name, max(want, 1), len(args))
	}
	return fn{name: name, args: args}, nil
}
