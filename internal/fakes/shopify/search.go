package shopify

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

// The search syntax of the query argument, as Shopify documents it: terms
// joined by whitespace (AND) or OR, negated by "-" or NOT, grouped with
// parentheses; a term is a bare value (searched in the type's default
// fields) or field:value with an optional comparator (<, >, <=, >=). Text
// fields are tokenised as Shopify's search is: an unquoted value matches a
// record whose field holds every token of the value, a quoted value one whose
// field holds the value's tokens as a phrase, and a trailing * a token
// prefix. Neither is an exact comparison: bob@example.com also matches
// bob@example.com.au. Unknown fields are ignored with a warning in
// extensions.search, as Shopify does.

// fieldKind says how a search field compares.
type fieldKind int

const (
	kindText    fieldKind = iota // tokenised
	kindKeyword                  // case-insensitive equality
	kindTag                      // equality with any one tag
	kindTime                     // RFC 3339, with comparators
	kindID                       // numeric id or gid, with comparators
)

type searchField struct {
	kind   fieldKind
	fields []string // the record fields it reads
}

// searchFields are the documented query fields of each connection the fake serves.
var searchFields = map[string]map[string]searchField{
	"Customer": {
		"default":    {kindText, []string{"email", "firstName", "lastName", "phone", "tags"}},
		"email":      {kindText, []string{"email"}},
		"first_name": {kindText, []string{"firstName"}},
		"last_name":  {kindText, []string{"lastName"}},
		"phone":      {kindText, []string{"phone"}},
		"state":      {kindKeyword, []string{"state"}},
		"tag":        {kindTag, []string{"tags"}},
	},
	"Order": {
		"default":            {kindText, []string{"email", "name"}},
		"email":              {kindText, []string{"email"}},
		"name":               {kindText, []string{"name"}},
		"financial_status":   {kindKeyword, []string{"displayFinancialStatus"}},
		"fulfillment_status": {kindKeyword, []string{"displayFulfillmentStatus"}},
		"customer_id":        {kindID, []string{"customerId"}},
	},
	"Product": {
		"default":      {kindText, []string{"title", "vendor", "productType", "tags"}},
		"title":        {kindText, []string{"title"}},
		"handle":       {kindKeyword, []string{"handle"}},
		"status":       {kindKeyword, []string{"status"}},
		"vendor":       {kindText, []string{"vendor"}},
		"product_type": {kindText, []string{"productType"}},
		"tag":          {kindTag, []string{"tags"}},
	},
}

// Every type also has id, created_at and updated_at.
var commonFields = map[string]searchField{
	"id": {kind: kindID}, "created_at": {kind: kindTime}, "updated_at": {kind: kindTime},
}

// searchNode is a parsed query: a term, or NOT/AND/OR of nodes.
type searchNode struct {
	op      string // "term", "not", "and", "or"
	kids    []*searchNode
	field   string
	cmp     string // "", "<", ">", "<=", ">="
	value   string
	quoted  bool
	ignored bool // an unknown field: matches everything
}

// searchWarning is one entry of extensions.search[].warnings.
type searchWarning struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

type searchParser struct {
	toks     []string
	pos      int
	typ      string
	warnings []searchWarning
}

// parseSearch parses a query for a type; warnings name ignored fields.
func parseSearch(q, typ string) (*searchNode, []searchWarning, error) {
	toks, err := lexSearch(q)
	if err != nil {
		return nil, nil, err
	}
	p := &searchParser{toks: toks, typ: typ}
	if len(toks) == 0 {
		return &searchNode{op: "and"}, nil, nil
	}
	n, err := p.or()
	if err != nil {
		return nil, nil, err
	}
	if p.pos < len(p.toks) {
		return nil, nil, fmt.Errorf("unexpected %q in the search query", p.toks[p.pos])
	}
	return n, p.warnings, nil
}

// lexSearch splits a query into parentheses and terms; a quoted string stays
// in its term.
func lexSearch(q string) ([]string, error) {
	var toks []string
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			toks = append(toks, cur.String())
			cur.Reset()
		}
	}
	rs := []rune(q)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case unicode.IsSpace(r):
			flush()
		case (r == '(' || r == ')') && cur.Len() == 0, r == ')':
			flush()
			toks = append(toks, string(r))
		case r == '\'' || r == '"':
			j := slices.Index(rs[i+1:], r)
			if j < 0 {
				return nil, fmt.Errorf("unterminated quote in the search query")
			}
			cur.WriteString(string(rs[i : i+j+2]))
			i += j + 1
		default:
			cur.WriteRune(r)
		}
	}
	flush()
	return toks, nil
}

func (p *searchParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *searchParser) or() (*searchNode, error) {
	n, err := p.and()
	if err != nil {
		return nil, err
	}
	out := &searchNode{op: "or", kids: []*searchNode{n}}
	for p.peek() == "OR" {
		p.pos++
		k, err := p.and()
		if err != nil {
			return nil, err
		}
		out.kids = append(out.kids, k)
	}
	if len(out.kids) == 1 {
		return n, nil
	}
	return out, nil
}

func (p *searchParser) and() (*searchNode, error) {
	out := &searchNode{op: "and"}
	for {
		switch t := p.peek(); t {
		case "", ")", "OR":
			if len(out.kids) == 0 {
				return nil, fmt.Errorf("a search term is missing before %q", t)
			}
			return out, nil
		case "AND":
			p.pos++
			continue
		}
		k, err := p.unary()
		if err != nil {
			return nil, err
		}
		out.kids = append(out.kids, k)
	}
}

var termPattern = regexp.MustCompile(`^([A-Za-z_]+):(>=|<=|>|<)?(.*)$`)

func (p *searchParser) unary() (*searchNode, error) {
	t := p.peek()
	p.pos++
	switch {
	case t == "NOT":
		k, err := p.unary()
		return &searchNode{op: "not", kids: []*searchNode{k}}, err
	case t == "(":
		k, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, fmt.Errorf("a parenthesis is not closed in the search query")
		}
		p.pos++
		return k, nil
	case len(t) > 1 && t[0] == '-':
		p.toks[p.pos-1] = t[1:]
		p.pos--
		k, err := p.unary()
		return &searchNode{op: "not", kids: []*searchNode{k}}, err
	}
	n := &searchNode{op: "term", field: "default", value: t}
	if m := termPattern.FindStringSubmatch(t); m != nil {
		n.field, n.cmp, n.value = strings.ToLower(m[1]), m[2], m[3]
	}
	if len(n.value) >= 2 && (n.value[0] == '\'' || n.value[0] == '"') && n.value[len(n.value)-1] == n.value[0] {
		n.value, n.quoted = n.value[1:len(n.value)-1], true
	}
	if _, ok := p.field(n.field); !ok {
		n.ignored = true
		p.warnings = append(p.warnings, searchWarning{Field: n.field, Message: "Invalid search field for this query."})
	}
	return n, nil
}

func (p *searchParser) field(name string) (searchField, bool) {
	if f, ok := commonFields[name]; ok {
		return f, true
	}
	f, ok := searchFields[p.typ][name]
	return f, ok
}

// tokens are the lower-cased letter-and-digit runs of s.
func tokens(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

// match says whether a record of typ satisfies the node.
func (n *searchNode) match(r fakekit.Record, typ string) bool {
	switch n.op {
	case "not":
		return !n.kids[0].match(r, typ)
	case "and":
		for _, k := range n.kids {
			if !k.match(r, typ) {
				return false
			}
		}
		return true
	case "or":
		for _, k := range n.kids {
			if k.match(r, typ) {
				return true
			}
		}
		return false
	}
	if n.ignored {
		return true
	}
	f, ok := commonFields[n.field]
	if !ok {
		f = searchFields[typ][n.field]
	}
	switch f.kind {
	case kindTime:
		at := r.UpdatedAt
		if n.field == "created_at" {
			at = r.CreatedAt
		}
		return compareTime(at, n.cmp, n.value)
	case kindID:
		id := r.ID
		if len(f.fields) > 0 {
			id = r.Fields[f.fields[0]]
		}
		return compareID(id, n.cmp, n.value)
	}
	for _, name := range f.fields {
		v := r.Fields[name]
		switch f.kind {
		case kindKeyword:
			if strings.EqualFold(v, n.value) {
				return true
			}
		case kindTag:
			if slices.ContainsFunc(tags(v), func(t string) bool { return strings.EqualFold(t, n.value) }) {
				return true
			}
		default:
			if textMatch(tokens(v), n.value, n.quoted) {
				return true
			}
		}
	}
	return false
}

// textMatch is the tokenised comparison of a text field with a value.
func textMatch(have []string, value string, quoted bool) bool {
	prefix := strings.HasSuffix(value, "*")
	want := tokens(strings.TrimSuffix(value, "*"))
	if len(want) == 0 {
		return false
	}
	eq := func(h, w string, last bool) bool {
		if prefix && last {
			return strings.HasPrefix(h, w)
		}
		return h == w
	}
	if quoted {
		for i := 0; i+len(want) <= len(have); i++ {
			ok := true
			for j, w := range want {
				if !eq(have[i+j], w, j == len(want)-1) {
					ok = false
					break
				}
			}
			if ok {
				return true
			}
		}
		return false
	}
	for j, w := range want {
		if !slices.ContainsFunc(have, func(h string) bool { return eq(h, w, j == len(want)-1) }) {
			return false
		}
	}
	return true
}

func compareTime(at time.Time, cmp, value string) bool {
	t, err := time.Parse(time.RFC3339, value)
	if err != nil {
		if t, err = time.Parse("2006-01-02", value); err != nil {
			return false
		}
	}
	switch cmp {
	case ">=":
		return !at.Before(t)
	case ">":
		return at.After(t)
	case "<=":
		return !at.After(t)
	case "<":
		return at.Before(t)
	}
	return at.Equal(t)
}

func compareID(id, cmp, value string) bool {
	id = id[strings.LastIndex(id, "/")+1:]
	value = value[strings.LastIndex(value, "/")+1:]
	a, errA := strconv.ParseInt(id, 10, 64)
	b, errB := strconv.ParseInt(value, 10, 64)
	if errA != nil || errB != nil {
		return cmp == "" && id == value
	}
	switch cmp {
	case ">=":
		return a >= b
	case ">":
		return a > b
	case "<=":
		return a <= b
	case "<":
		return a < b
	}
	return a == b
}
