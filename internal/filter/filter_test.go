package filter

import (
	"errors"
	"strings"
	"testing"
	"time"

	"patchbay/internal/connector"
)

func TestParse(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{``, `<nil>`},
		{`segment = "Enterprise"`, `segment = "Enterprise"`},
		{`segment = 'SMB' and created_at > 2026-01-01`, `(segment = "SMB" and created_at > 2026-01-01)`},
		{`a = 1 or b = 2 and c = 3`, `(a = 1 or (b = 2 and c = 3))`},
		{`(a = 1 or b = 2) and c = 3`, `((a = 1 or b = 2) and c = 3)`},
		{`not a = 1`, `not a = 1`},
		{`NOT (a >= -2.5) AND b <= 10`, `(not a >= -2.5 and b <= 10)`},
		{`email contains "@acme.com"`, `email contains "@acme.com"`},
		{`segment in ("SMB", "Enterprise")`, `segment in ("SMB", "Enterprise")`},
		{`segment not in (1, 2)`, `segment not in (1, 2)`},
		{`phone is empty or phone is not empty`, `(phone is empty or phone is not empty)`},
		{`t < 2026-01-31T09:00:00Z`, `t < 2026-01-31T09:00:00Z`},
		{`name = "say \"hi\""`, `name = "say \"hi\""`},
		{`properties.x != "é"`, `properties.x != "é"`},
	}
	for _, c := range cases {
		e, err := Parse(c.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.in, err)
			continue
		}
		got := "<nil>"
		if e != nil {
			got = e.String()
		}
		if got != c.want {
			t.Errorf("Parse(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		pos  int
		part string
	}{
		{`segment = `, 11, "expected a value"},
		{`segment = Enterprise`, 11, "quote text"},
		{`segment "x"`, 9, "expected an operator"},
		{`(a = 1`, 7, "expected ) to close the ( at position 1"},
		{`a = 1 b = 2`, 7, "expected and, or"},
		{`a == 1`, 3, "use = to compare"},
		{`a = "open`, 5, "never closed"},
		{`a in 1`, 6, "expected ( after in"},
		{`a in (1 2)`, 9, "expected , or )"},
		{`a is full`, 6, "expected empty after is"},
		{`and = 1`, 1, "keyword"},
		{`a = 12abc`, 5, "is neither a number"},
		{`é = 1 and # `, 11, "unexpected character"},
		{`a ! 1`, 3, `"!" must be followed by "="`},
		{`a = 1 or`, 9, "expected a field name, found the end"},
		{strings.Repeat("(", 100) + "a = 1", 65, "nests deeper"},
	}
	for _, c := range cases {
		_, err := Parse(c.in)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Parse(%q): err %v, want a SyntaxError", c.in, err)
			continue
		}
		if se.Pos != c.pos || !strings.Contains(se.Msg, c.part) {
			t.Errorf("Parse(%q) = %v; want position %d and %q", c.in, se, c.pos, c.part)
		}
	}
}

func TestMatch(t *testing.T) {
	t.Parallel()
	rec := map[string]any{"segment": "Enterprise", "n": "42", "created": "1767225600000" /* 2026-01-01 */, "email": "Ann@Acme.com", "blank": "", "nul": nil}
	cases := []struct {
		f    string
		want bool
	}{
		{`segment = "enterprise"`, true},
		{`segment != "SMB"`, true},
		{`n > 41 and n <= 42`, true},
		{`n > 100`, false},
		{`n = "42"`, true},
		{`segment > 5`, false}, // not a number: no match
		{`created >= 2026-01-01 and created < 2026-01-02`, true},
		{`created > 2026-01-01T00:00:01Z`, false},
		{`email contains "@acme"`, true},
		{`segment in ("SMB", "Enterprise")`, true},
		{`segment not in ("SMB", "Enterprise")`, false},
		{`blank is empty and nul is empty and missing is empty`, true},
		{`blank = ""`, false},
		{`blank != "x"`, false}, // comparisons with empty are false
		{`not blank = "x"`, true},
		{`missing not in ("x")`, false},
		{`not (missing in ("x"))`, true},
		{`(segment = "SMB" or n = 42) and not email contains "gmail"`, true},
	}
	for _, c := range cases {
		e, err := Parse(c.f)
		if err != nil {
			t.Fatalf("Parse(%q): %v", c.f, err)
		}
		if got := Match(e, rec); got != c.want {
			t.Errorf("Match(%s) = %v, want %v", c.f, got, c.want)
		}
	}
}

func TestPlan(t *testing.T) {
	t.Parallel()
	cases := []struct {
		f     string
		push  string
		local bool
	}{
		{``, ``, false},
		{`segment = "Enterprise" and n > 3`, `segment eq "Enterprise" AND n gt 3`, false},
		{`a = 1 or b = 2`, `a eq 1 | b eq 2`, false},
		{`not a = "1"`, `a neq "1" | a empty`, false},
		{`not a = 1`, ``, true},
		{`not (a = "1" or b is empty)`, `a neq "1" AND b not_empty | a empty AND b not_empty`, false},
		{`a in ("x","y") and d >= 2026-01-01`, `a in "x","y" AND d gte 2026-01-01T00:00:00Z`, false},
		{`email contains "acme" and segment = "SMB"`, `segment eq "SMB"`, true},
		{`email contains "acme" or segment = "SMB"`, ``, true},
		{`not (a in ("1"))`, `a not_in "1" | a empty`, false},
	}
	for _, c := range cases {
		e, err := Parse(c.f)
		if err != nil {
			t.Fatal(err)
		}
		push, local := Plan(e)
		if got := Describe(push); got != c.push || local != c.local {
			t.Errorf("Plan(%s) = %q local=%v; want %q local=%v", c.f, got, local, c.push, c.local)
		}
	}
}

// matchPushed evaluates a pushed-down filter the way a provider would,
// to check that pushing keeps the meaning of the filter.
func matchPushed(f connector.Filter, fields map[string]any) bool {
	if f == nil {
		return true
	}
	for _, g := range f {
		all := true
		for _, c := range g {
			v, has := value(fields, c.Field)
			ok := false
			switch c.Op {
			case connector.OpEmpty:
				ok = !has
			case connector.OpNotEmpty:
				ok = has
			case connector.OpIn, connector.OpNotIn:
				in := false
				for _, x := range c.Values {
					if r, ok2 := compare(v, toLit(x)); ok2 && r == 0 {
						in = true
					}
				}
				ok = has && in == (c.Op == connector.OpIn)
			default:
				r, ok2 := compare(v, toLit(c.Values[0]))
				ok = has && ok2 && map[connector.Op]bool{
					connector.OpEq: r == 0, connector.OpNeq: r != 0, connector.OpLt: r < 0,
					connector.OpLte: r <= 0, connector.OpGt: r > 0, connector.OpGte: r >= 0}[c.Op]
			}
			if !ok {
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

func toLit(v any) Literal {
	switch v := v.(type) {
	case float64:
		return Literal{Kind: Number, Num: v}
	case time.Time:
		return Literal{Kind: Date, Time: v}
	}
	return Literal{Kind: String, Str: v.(string)}
}

func TestPlanKeepsMeaning(t *testing.T) {
	t.Parallel()
	filters := []string{
		`not a = "1"`, `not (a = "1" and b != "2")`, `not (a in ("1", "2")) or b is empty`, `a not in (1) and not b is not empty`,
		`not (not a < "2" or b >= "1")`, `(a = 1 or b = 1) and (a = 2 or b is empty)`, `a > 1 and b not in ("x")`,
	}
	values := []any{nil, "", "1", "2", "x"}
	for _, f := range filters {
		e, err := Parse(f)
		if err != nil {
			t.Fatal(err)
		}
		push, local := Plan(e)
		if local {
			t.Fatalf("%s should push down whole", f)
		}
		for _, a := range values {
			for _, b := range values {
				rec := map[string]any{"a": a, "b": b}
				if Match(e, rec) != matchPushed(push, rec) {
					t.Errorf("%s on a=%v b=%v: local %v, pushed %v (%s)", f, a, b, Match(e, rec), matchPushed(push, rec), Describe(push))
				}
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{`segment = "Enterprise" and created_at > 2026-01-01`, `a in (1, "x", 2026-01-01)`, `not (a is empty or b contains 'x')`,
		`a = "\"`, `((((`, `a not in ()`, `x >= -1.5e3`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := Parse(s)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Pos < 1 {
				t.Fatalf("Parse(%q): %v is not a positioned SyntaxError", s, err)
			}
			return
		}
		if e == nil {
			return
		}
		Match(e, map[string]any{"a": "1", "x": "2026-01-01"})
		Plan(e)
		// The canonical form parses back to itself.
		again, err := Parse(e.String())
		if err != nil || again.String() != e.String() {
			t.Fatalf("round trip of %q: %v %v", e.String(), again, err)
		}
	})
}
