package salesforce

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"patchbay/internal/fakes/fakekit"
)

// The SOQL the fake understands: SELECT fields|COUNT() FROM object [WHERE
// conditions] [ORDER BY field [ASC|DESC], …] [LIMIT n], where conditions
// are joined by AND, OR and NOT with parentheses, a condition is `field op
// literal` (=, !=, <, <=, >, >=, LIKE) or `field [NOT] IN (literal, …)` and
// literals are 'strings', numbers, datetimes, dates, true, false, null.
// As in SOQL, AND and OR may not be mixed at one level without parentheses.
// Anything else is refused with MALFORMED_QUERY, as a real org refuses SOQL
// it cannot parse.
type query struct {
	def    *objectDef
	fields []field
	count  bool // SELECT COUNT(): only totalSize is answered
	where  expr // nil: every record
	order  []orderBy
	limit  int // 0: none
}

// expr is a WHERE clause or a part of one.
type expr interface {
	match(def *objectDef, r fakekit.Record) bool
}

// logical is conditions joined by AND (or, when or is set, by OR).
type logical struct {
	or    bool
	terms []expr
}

func (l logical) match(def *objectDef, r fakekit.Record) bool {
	for _, t := range l.terms {
		if t.match(def, r) == l.or {
			return l.or
		}
	}
	return !l.or
}

type not struct{ e expr }

func (n not) match(def *objectDef, r fakekit.Record) bool { return !n.e.match(def, r) }

type condition struct {
	f    field
	op   string
	vals []string // one, or the IN list; "" is null
}

type orderBy struct {
	f    field
	desc bool
}

// queryError is a SOQL refusal: 400 with its error code.
type queryError struct{ code, msg string }

func (e *queryError) Error() string { return e.code + ": " + e.msg }

func malformed(format string, args ...any) *queryError {
	return &queryError{"MALFORMED_QUERY", fmt.Sprintf(format, args...)}
}

var tokenPattern = regexp.MustCompile(`\s*('(?:[^'\\]|\\.)*'|!=|<=|>=|[=<>(),]|[^\s'=<>!(),]+)`)

func tokenize(s string) ([]string, error) {
	var toks []string
	rest := strings.TrimSpace(s)
	for rest != "" {
		m := tokenPattern.FindStringSubmatchIndex(rest)
		if m == nil || m[0] != 0 {
			return nil, malformed("unexpected input near %q", rest)
		}
		toks = append(toks, rest[m[2]:m[3]])
		rest = strings.TrimSpace(rest[m[1]:])
	}
	return toks, nil
}

type parser struct {
	toks []string
	pos  int
}

func (p *parser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *parser) next() string { t := p.peek(); p.pos++; return t }

func (p *parser) keyword(k string) bool {
	if strings.EqualFold(p.peek(), k) {
		p.pos++
		return true
	}
	return false
}

func parseQuery(soql string) (*query, error) {
	toks, err := tokenize(soql)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	if !p.keyword("SELECT") {
		return nil, malformed("a query starts with SELECT")
	}
	var names []string
	count := false
	if strings.EqualFold(p.peek(), "COUNT") && p.pos+2 < len(p.toks) && p.toks[p.pos+1] == "(" && p.toks[p.pos+2] == ")" {
		p.pos += 3
		count = true
	}
	for !count {
		name := p.next()
		if name == "" || strings.EqualFold(name, "FROM") {
			return nil, malformed("expected a field name after SELECT or a comma")
		}
		names = append(names, name)
		if p.peek() != "," {
			break
		}
		p.next()
	}
	if !p.keyword("FROM") {
		return nil, malformed("expected FROM after the field list")
	}
	objName := p.next()
	def, ok := lookupObject(objName)
	if !ok {
		return nil, &queryError{"INVALID_TYPE", fmt.Sprintf("sObject type '%s' is not supported.", objName)}
	}
	q := &query{def: def, count: count}
	fieldOf := func(name string) (field, error) {
		f, ok := def.field(name)
		if !ok {
			return field{}, &queryError{"INVALID_FIELD", fmt.Sprintf("No such column '%s' on entity '%s'.", name, def.name)}
		}
		return f, nil
	}
	for _, n := range names {
		f, err := fieldOf(n)
		if err != nil {
			return nil, err
		}
		q.fields = append(q.fields, f)
	}
	if p.keyword("WHERE") {
		w, err := p.conditions(fieldOf)
		if err != nil {
			return nil, err
		}
		q.where = w
	}
	if p.keyword("ORDER") {
		if !p.keyword("BY") {
			return nil, malformed("expected BY after ORDER")
		}
		for {
			f, err := fieldOf(p.next())
			if err != nil {
				return nil, err
			}
			o := orderBy{f: f}
			if p.keyword("DESC") {
				o.desc = true
			} else {
				p.keyword("ASC")
			}
			q.order = append(q.order, o)
			if p.peek() != "," {
				break
			}
			p.next()
		}
	}
	if p.keyword("LIMIT") {
		n, err := strconv.Atoi(p.next())
		if err != nil || n < 0 {
			return nil, malformed("LIMIT takes a whole number")
		}
		q.limit = n
	}
	if p.peek() != "" {
		return nil, malformed("unexpected token '%s'", p.peek())
	}
	return q, nil
}

// conditions parses a WHERE clause up to ORDER BY, LIMIT, ")" or the end:
// terms joined by one of AND or OR, as SOQL refuses `a AND b OR c`.
func (p *parser) conditions(fieldOf func(string) (field, error)) (expr, error) {
	first, err := p.term(fieldOf)
	if err != nil {
		return nil, err
	}
	l := logical{terms: []expr{first}}
	for op := ""; ; {
		t := strings.ToUpper(p.peek())
		if t != "AND" && t != "OR" {
			break
		}
		if op != "" && t != op {
			return nil, malformed("unexpected token: %s (AND and OR are combined with parentheses)", p.peek())
		}
		op = t
		p.next()
		e, err := p.term(fieldOf)
		if err != nil {
			return nil, err
		}
		l.or = op == "OR"
		l.terms = append(l.terms, e)
	}
	if len(l.terms) == 1 {
		return first, nil
	}
	return l, nil
}

// term is NOT term, a parenthesised clause or one condition.
func (p *parser) term(fieldOf func(string) (field, error)) (expr, error) {
	if p.keyword("NOT") {
		e, err := p.term(fieldOf)
		return not{e}, err
	}
	if p.peek() == "(" {
		p.next()
		e, err := p.conditions(fieldOf)
		if err != nil {
			return nil, err
		}
		if p.next() != ")" {
			return nil, malformed("expected ) to close a parenthesised condition")
		}
		return e, nil
	}
	f, err := fieldOf(p.next())
	if err != nil {
		return nil, err
	}
	c := condition{f: f, op: strings.ToUpper(p.next())}
	negate := false
	if c.op == "NOT" && strings.EqualFold(p.peek(), "IN") {
		p.next()
		c.op, negate = "IN", true
	}
	switch c.op {
	case "=", "!=", "<", "<=", ">", ">=", "LIKE":
		v, err := literal(p.next())
		if err != nil {
			return nil, err
		}
		c.vals = []string{v}
	case "IN":
		if p.next() != "(" {
			return nil, malformed("IN takes a parenthesised list")
		}
		for {
			v, err := literal(p.next())
			if err != nil {
				return nil, err
			}
			c.vals = append(c.vals, v)
			if t := p.next(); t == ")" {
				break
			} else if t != "," {
				return nil, malformed("expected , or ) in an IN list")
			}
		}
	default:
		return nil, malformed("unsupported operator %q", c.op)
	}
	if negate {
		return not{c}, nil
	}
	return c, nil
}

// literal reads a SOQL literal into the string form records hold.
func literal(tok string) (string, error) {
	switch {
	case tok == "":
		return "", malformed("expected a value")
	case strings.HasPrefix(tok, "'"):
		body := tok[1 : len(tok)-1]
		var b strings.Builder
		for i := 0; i < len(body); i++ {
			if body[i] == '\\' && i+1 < len(body) {
				i++
			}
			b.WriteByte(body[i])
		}
		return b.String(), nil
	case strings.EqualFold(tok, "null"):
		return "", nil
	case strings.EqualFold(tok, "true"), strings.EqualFold(tok, "false"):
		return strings.ToLower(tok), nil
	case unicode.IsDigit(rune(tok[0])) || tok[0] == '-':
		if t, ok := parseTime(tok); ok {
			return t.UTC().Format(timeFormat), nil
		}
		if _, err := strconv.ParseFloat(tok, 64); err == nil {
			return tok, nil
		}
	}
	return "", malformed("unexpected token '%s'", tok)
}

// compare orders two field values of type typ; "" (null) sorts first.
func compare(typ, a, b string) int {
	switch {
	case a == "" || b == "":
		return strings.Compare(a, b)
	case typ == typeDateTime:
		ta, _ := parseTime(a)
		tb, _ := parseTime(b)
		return ta.Compare(tb)
	case typ == typeInt:
		na, _ := strconv.ParseFloat(a, 64)
		nb, _ := strconv.ParseFloat(b, 64)
		switch {
		case na < nb:
			return -1
		case na > nb:
			return 1
		}
		return 0
	}
	return strings.Compare(strings.ToLower(a), strings.ToLower(b)) // text compares without case in SOQL
}

func (c condition) match(def *objectDef, r fakekit.Record) bool {
	v := def.value(r, c.f.name)
	switch c.op {
	case "IN":
		return slices.ContainsFunc(c.vals, func(x string) bool { return compare(c.f.typ, v, x) == 0 })
	case "LIKE":
		return like(strings.ToLower(c.vals[0]), strings.ToLower(v))
	}
	if (v == "" || c.vals[0] == "") && c.op != "=" && c.op != "!=" {
		return false // comparisons with null match nothing
	}
	n := compare(c.f.typ, v, c.vals[0])
	switch c.op {
	case "=":
		return n == 0
	case "!=":
		return n != 0
	case "<":
		return n < 0
	case "<=":
		return n <= 0
	case ">":
		return n > 0
	}
	return n >= 0
}

// like matches SOQL's LIKE: % is any run of characters, _ any one.
func like(pattern, s string) bool {
	if pattern == "" {
		return s == ""
	}
	switch pattern[0] {
	case '%':
		for i := 0; i <= len(s); i++ {
			if like(pattern[1:], s[i:]) {
				return true
			}
		}
		return false
	case '_':
		return s != "" && like(pattern[1:], s[1:])
	}
	return s != "" && s[0] == pattern[0] && like(pattern[1:], s[1:])
}

// run returns the store ids of the matching records, in query order.
func (q *query) run(all []fakekit.Record) []string {
	var hits []fakekit.Record
	for _, r := range all {
		if q.where == nil || q.where.match(q.def, r) {
			hits = append(hits, r)
		}
	}
	slices.SortStableFunc(hits, func(a, b fakekit.Record) int {
		for _, o := range q.order {
			n := compare(o.f.typ, q.def.value(a, o.f.name), q.def.value(b, o.f.name))
			if o.desc {
				n = -n
			}
			if n != 0 {
				return n
			}
		}
		return 0 // ties keep id order
	})
	if q.limit > 0 && len(hits) > q.limit {
		hits = hits[:q.limit]
	}
	ids := make([]string, len(hits))
	for i, r := range hits {
		ids[i] = r.ID
	}
	return ids
}

// cursor is a query locator: the result of a query, served page by page.
type cursor struct {
	account string
	def     *objectDef
	fields  []field
	ids     []string
	batch   int
	used    time.Time
}

// locatorTTL is how long a query locator lives without being used.
const locatorTTL = 15 * time.Minute
