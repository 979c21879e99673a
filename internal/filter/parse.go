// Package filter is Patchbay's small filter language for inbound syncs
// (docs/filters.md): a parser that reports where an error is, an evaluator
// over a record's fields, and a plan that hands providers the part they can
// filter themselves (push-down) in a provider-neutral form.
package filter

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// SyntaxError is a malformed filter; Pos is the 1-based character position.
type SyntaxError struct {
	Pos int
	Msg string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("position %d: %s", e.Pos, e.Msg) }

// MaxLength bounds a filter's text (and so its parse work).
const MaxLength = 4096

// maxDepth bounds nesting, so that a hostile filter cannot exhaust the stack.
const maxDepth = 64

// Kind is the type of a literal.
type Kind int

// Literal kinds.
const (
	String Kind = iota
	Number
	Date
)

// Literal is a value in a filter.
type Literal struct {
	Kind Kind
	Str  string
	Num  float64
	Time time.Time
	Raw  string // as written (quoted strings keep their quotes)
}

// Expr is a parsed filter.
type Expr interface{ String() string }

// Cmp is `field op value`; Op is one of = != < <= > >=.
type Cmp struct {
	Field string
	Op    string
	Value Literal
}

// Contains is `field contains value` (substring, without regard to case).
type Contains struct {
	Field string
	Value Literal
}

// In is `field in (v1, v2, …)`; Not for `not in`.
type In struct {
	Field  string
	Values []Literal
	Not    bool
}

// Empty is `field is empty`; Not for `is not empty`.
type Empty struct {
	Field string
	Not   bool
}

// And, Or and Not combine expressions.
type (
	And struct{ L, R Expr }
	Or  struct{ L, R Expr }
	Not struct{ X Expr }
)

func (c Cmp) String() string      { return c.Field + " " + c.Op + " " + c.Value.Raw }
func (c Contains) String() string { return c.Field + " contains " + c.Value.Raw }
func (e In) String() string {
	vs := make([]string, len(e.Values))
	for i, v := range e.Values {
		vs[i] = v.Raw
	}
	op := " in ("
	if e.Not {
		op = " not in ("
	}
	return e.Field + op + strings.Join(vs, ", ") + ")"
}
func (e Empty) String() string {
	if e.Not {
		return e.Field + " is not empty"
	}
	return e.Field + " is empty"
}
func (e And) String() string { return "(" + e.L.String() + " and " + e.R.String() + ")" }
func (e Or) String() string  { return "(" + e.L.String() + " or " + e.R.String() + ")" }
func (e Not) String() string { return "not " + e.X.String() }

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tString
	tNumber
	tDate
	tOp
	tLParen
	tRParen
	tComma
)

type token struct {
	kind tokKind
	text string // identifiers and operators as written; strings unquoted
	raw  string
	pos  int // 1-based character position
	lit  Literal
}

func lex(src string) ([]token, error) {
	var toks []token
	pos := 1 // character position of i
	for i := 0; i < len(src); {
		r, w := utf8.DecodeRuneInString(src[i:])
		start := pos
		switch {
		case r == utf8.RuneError && w == 1:
			return nil, &SyntaxError{Pos: start, Msg: "the filter is not valid UTF-8"}
		case unicode.IsSpace(r):
			i += w
			pos++
			continue
		case r == '(' || r == ')' || r == ',':
			k := map[rune]tokKind{'(': tLParen, ')': tRParen, ',': tComma}[r]
			toks = append(toks, token{kind: k, text: string(r), raw: string(r), pos: start})
			i += w
			pos++
			continue
		case r == '=' || r == '<' || r == '>' || r == '!':
			op := string(r)
			if i+1 < len(src) && src[i+1] == '=' {
				op += "="
			}
			if op == "!" {
				return nil, &SyntaxError{Pos: start, Msg: `"!" must be followed by "=" (use != or not)`}
			}
			if op == "==" {
				return nil, &SyntaxError{Pos: start, Msg: `use = to compare, not ==`}
			}
			toks = append(toks, token{kind: tOp, text: op, raw: op, pos: start})
			i += len(op)
			pos += len(op)
			continue
		case r == '"' || r == '\'':
			var b strings.Builder
			j := i + 1
			p := pos + 1
			closed := false
			for j < len(src) {
				c, cw := utf8.DecodeRuneInString(src[j:])
				if c == r {
					closed = true
					j += cw
					p++
					break
				}
				if c == '\\' {
					if j+1 >= len(src) {
						break
					}
					n, nw := utf8.DecodeRuneInString(src[j+1:])
					switch n {
					case '\\', '"', '\'':
						b.WriteRune(n)
					case 'n':
						b.WriteByte('\n')
					case 't':
						b.WriteByte('\t')
					default:
						return nil, &SyntaxError{Pos: p, Msg: fmt.Sprintf(`unknown escape "\%c" in a string; use \\, \", \', \n or \t`, n)}
					}
					j += 1 + nw
					p += 2
					continue
				}
				b.WriteRune(c)
				j += cw
				p++
			}
			if !closed {
				return nil, &SyntaxError{Pos: start, Msg: "this string is never closed; add the closing quote"}
			}
			raw := src[i:j]
			toks = append(toks, token{kind: tString, text: b.String(), raw: raw, pos: start,
				lit: Literal{Kind: String, Str: b.String(), Raw: quote(b.String())}})
			i, pos = j, p
			continue
		case r == '-' || r == '.' || (r >= '0' && r <= '9'):
			j := i + 1
			for j < len(src) && (isWordByte(src[j]) || src[j] == '-' || src[j] == '+' || src[j] == ':' || src[j] == '.') {
				j++
			}
			word := src[i:j]
			t := token{raw: word, text: word, pos: start}
			if d, ok := parseDate(word); ok {
				t.kind, t.lit = tDate, Literal{Kind: Date, Time: d, Raw: word}
			} else if f, err := strconv.ParseFloat(word, 64); err == nil && isPlainNumber(word) {
				t.kind, t.lit = tNumber, Literal{Kind: Number, Num: f, Raw: word}
			} else {
				return nil, &SyntaxError{Pos: start, Msg: fmt.Sprintf("%q is neither a number (12, -3.5) nor a date (2026-01-31 or 2026-01-31T09:00:00Z); quote text", word)}
			}
			toks = append(toks, t)
			pos += utf8.RuneCountInString(word)
			i = j
			continue
		case r == '_' || unicode.IsLetter(r):
			j := i
			for j < len(src) {
				c, cw := utf8.DecodeRuneInString(src[j:])
				if c != '_' && c != '.' && !unicode.IsLetter(c) && !unicode.IsDigit(c) {
					break
				}
				j += cw
			}
			word := src[i:j]
			toks = append(toks, token{kind: tIdent, text: word, raw: word, pos: start})
			pos += utf8.RuneCountInString(word)
			i = j
			continue
		}
		return nil, &SyntaxError{Pos: start, Msg: fmt.Sprintf("unexpected character %q", r)}
	}
	return append(toks, token{kind: tEOF, pos: pos}), nil
}

// quote writes a string literal in the filter's own escapes.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\t", `\t`)
	return `"` + r.Replace(s) + `"`
}

func isWordByte(c byte) bool {
	return c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isPlainNumber(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" || s[0] == '.' || strings.HasSuffix(s, ".") {
		return false
	}
	dot := false
	for _, c := range s {
		switch {
		case c == '.' && !dot:
			dot = true
		case c < '0' || c > '9':
			return false
		}
	}
	return true
}

func parseDate(s string) (time.Time, bool) {
	if len(s) < 10 || s[4] != '-' {
		return time.Time{}, false
	}
	for _, layout := range []string{time.DateOnly, time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

type parser struct {
	toks  []token
	i     int
	depth int
}

// Parse reads a filter. An empty (or all-blank) filter is nil: every record.
func Parse(src string) (Expr, error) {
	if len(src) > MaxLength {
		return nil, &SyntaxError{Pos: MaxLength + 1, Msg: fmt.Sprintf("a filter is at most %d characters", MaxLength)}
	}
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	if toks[0].kind == tEOF {
		return nil, nil
	}
	p := &parser{toks: toks}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, &SyntaxError{Pos: t.pos, Msg: fmt.Sprintf("expected and, or or the end of the filter, found %q", t.raw)}
	}
	return e, nil
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) keyword(kw string) bool {
	t := p.peek()
	if t.kind == tIdent && strings.EqualFold(t.text, kw) {
		p.i++
		return true
	}
	return false
}

func (p *parser) or() (Expr, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.keyword("or") {
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = Or{l, r}
	}
	return l, nil
}

func (p *parser) and() (Expr, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.keyword("and") {
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = And{l, r}
	}
	return l, nil
}

func (p *parser) unary() (Expr, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return nil, &SyntaxError{Pos: p.peek().pos, Msg: fmt.Sprintf("the filter nests deeper than %d levels", maxDepth)}
	}
	if p.keyword("not") {
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return Not{x}, nil
	}
	if t := p.peek(); t.kind == tLParen {
		p.next()
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tRParen {
			return nil, &SyntaxError{Pos: c.pos, Msg: fmt.Sprintf("expected ) to close the ( at position %d, found %s", t.pos, describe(c))}
		}
		return e, nil
	}
	return p.condition()
}

var reserved = []string{"and", "or", "not", "in", "is", "empty", "contains"}

func describe(t token) string {
	if t.kind == tEOF {
		return "the end of the filter"
	}
	return strconv.Quote(t.raw)
}

func (p *parser) condition() (Expr, error) {
	f := p.next()
	if f.kind != tIdent {
		return nil, &SyntaxError{Pos: f.pos, Msg: fmt.Sprintf("expected a field name, found %s", describe(f))}
	}
	for _, kw := range reserved {
		if strings.EqualFold(f.text, kw) {
			return nil, &SyntaxError{Pos: f.pos, Msg: fmt.Sprintf("expected a field name, found the keyword %q", f.text)}
		}
	}
	field := f.text
	t := p.peek()
	switch {
	case t.kind == tOp:
		p.next()
		v, err := p.value(t)
		if err != nil {
			return nil, err
		}
		return Cmp{Field: field, Op: t.text, Value: v}, nil
	case p.keyword("contains"):
		v, err := p.value(t)
		if err != nil {
			return nil, err
		}
		return Contains{Field: field, Value: v}, nil
	case p.keyword("is"):
		not := p.keyword("not")
		if !p.keyword("empty") {
			n := p.peek()
			return nil, &SyntaxError{Pos: n.pos, Msg: fmt.Sprintf("expected empty after is, found %s", describe(n))}
		}
		return Empty{Field: field, Not: not}, nil
	case p.keyword("not"):
		if !p.keyword("in") {
			n := p.peek()
			return nil, &SyntaxError{Pos: n.pos, Msg: fmt.Sprintf("expected in after not, found %s", describe(n))}
		}
		return p.in(field, true)
	case p.keyword("in"):
		return p.in(field, false)
	}
	return nil, &SyntaxError{Pos: t.pos, Msg: fmt.Sprintf("expected an operator (=, !=, <, <=, >, >=, contains, in, is empty) after %q, found %s", field, describe(t))}
}

func (p *parser) in(field string, not bool) (Expr, error) {
	open := p.next()
	if open.kind != tLParen {
		return nil, &SyntaxError{Pos: open.pos, Msg: fmt.Sprintf("expected ( after in, found %s", describe(open))}
	}
	var vals []Literal
	for {
		v, err := p.value(open)
		if err != nil {
			return nil, err
		}
		vals = append(vals, v)
		c := p.next()
		if c.kind == tRParen {
			return In{Field: field, Values: vals, Not: not}, nil
		}
		if c.kind != tComma {
			return nil, &SyntaxError{Pos: c.pos, Msg: fmt.Sprintf("expected , or ) in the list, found %s", describe(c))}
		}
	}
}

func (p *parser) value(after token) (Literal, error) {
	t := p.next()
	switch t.kind {
	case tString, tNumber, tDate:
		return t.lit, nil
	case tIdent:
		return Literal{}, &SyntaxError{Pos: t.pos, Msg: fmt.Sprintf("expected a value after %q, found the word %q; quote text: \"%s\"", after.raw, t.raw, t.raw)}
	}
	return Literal{}, &SyntaxError{Pos: t.pos, Msg: fmt.Sprintf("expected a value (a quoted string, a number or a date) after %q, found %s", after.raw, describe(t))}
}

// Fields lists the fields a filter reads, in order of first use.
func Fields(e Expr) []string {
	var out []string
	seen := map[string]bool{}
	add := func(f string) {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	var walk func(Expr)
	walk = func(e Expr) {
		switch e := e.(type) {
		case Cmp:
			add(e.Field)
		case Contains:
			add(e.Field)
		case In:
			add(e.Field)
		case Empty:
			add(e.Field)
		case And:
			walk(e.L)
			walk(e.R)
		case Or:
			walk(e.L)
			walk(e.R)
		case Not:
			walk(e.X)
		}
	}
	if e != nil {
		walk(e)
	}
	return out
}
