package connector

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// FieldType is a field's kind of value, the same for every provider.
type FieldType string

// Field types (API.md Contract v2).
const (
	TypeText     FieldType = "text"
	TypeNumber   FieldType = "number"
	TypeBoolean  FieldType = "boolean"
	TypeDate     FieldType = "date"
	TypeDateTime FieldType = "datetime"
	TypeEmail    FieldType = "email"
	TypePhone    FieldType = "phone"
	TypeURL      FieldType = "url"
	TypeEnum     FieldType = "enum"
	TypeJSON     FieldType = "json"
)

// SchemaField is one field of an object as the provider describes it.
type SchemaField struct {
	Name     string    `json:"name"`
	Label    string    `json:"label"`
	Type     FieldType `json:"type"`
	Custom   bool      `json:"custom"`
	Writable bool      `json:"writable"`
	Required bool      `json:"required"`
	Unique   bool      `json:"unique"`
	// Options are the allowed values of an enum field; Multiple says it
	// holds several of them (multi-select).
	Options  []string `json:"options,omitempty"`
	Multiple bool     `json:"multiple,omitempty"`
}

// SchemaObject is one object (record type, Airtable table, audience) and its fields.
type SchemaObject struct {
	Name   string        `json:"name"`
	Label  string        `json:"label"`
	Fields []SchemaField `json:"fields"`
}

// Schema is what a connection's account holds, read from the provider's own
// metadata API.
type Schema struct {
	Objects []SchemaObject `json:"objects"`
}

// SchemaReader is implemented by connectors whose provider describes its
// objects and fields (custom ones included). Schema reads every object the
// connection offers; each provider's package says what that costs.
type SchemaReader interface {
	Schema(ctx context.Context, s Session) (Schema, error)
}

// Object returns the named object of the schema.
func (sc *Schema) Object(name string) (*SchemaObject, bool) {
	for i := range sc.Objects {
		if sc.Objects[i].Name == name {
			return &sc.Objects[i], true
		}
	}
	return nil, false
}

// Field returns the named field of the object.
func (o *SchemaObject) Field(name string) (*SchemaField, bool) {
	if o == nil {
		return nil, false
	}
	for i := range o.Fields {
		if o.Fields[i].Name == name {
			return &o.Fields[i], true
		}
	}
	return nil, false
}

// FieldNames lists the object's field names.
func (o *SchemaObject) FieldNames() []string {
	out := make([]string, len(o.Fields))
	for i, f := range o.Fields {
		out[i] = f.Name
	}
	return out
}

// Closest returns up to n of names nearest to name: same letters ignoring
// case and punctuation first, then by edit distance (only those close enough
// to be a plausible slip), then names that contain it.
func Closest(name string, names []string, n int) []string {
	norm := func(s string) string {
		var b strings.Builder
		for _, r := range strings.ToLower(s) {
			if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
				b.WriteRune(r)
			}
		}
		return b.String()
	}
	want := norm(name)
	type cand struct {
		name string
		d    int
	}
	var cs []cand
	for _, c := range names {
		got := norm(c)
		d := distance(want, got)
		switch {
		case got == want:
			d = 0
		case want != "" && (strings.Contains(got, want) || strings.Contains(want, got)):
			d = min(d, 1+abs(len(got)-len(want))/4)
		case d > max(2, len(want)/3):
			continue
		}
		cs = append(cs, cand{c, d})
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].d < cs[j].d })
	out := make([]string, 0, n)
	for _, c := range cs {
		if len(out) == n {
			break
		}
		out = append(out, c.name)
	}
	return out
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// distance is the Levenshtein distance of a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// ConvertError says a value does not fit a field's type.
type ConvertError struct {
	Field string
	Value any
	Want  string
}

func (e *ConvertError) Error() string {
	return fmt.Sprintf("field %s: %v is not %s", e.Field, e.Value, e.Want)
}

// ToProvider converts a value Patchbay holds (text from a table cell, or a
// number, boolean or list) into the JSON value the field's type takes at the
// provider. Empty text stays empty text (the caller decides what clearing
// means). A value that does not fit is a *ConvertError naming field and value.
func (f *SchemaField) ToProvider(v any) (any, error) {
	s, isText := v.(string)
	if v == nil || isText && s == "" {
		return v, nil
	}
	bad := func(want string) (any, error) { return nil, &ConvertError{Field: f.Name, Value: v, Want: want} }
	switch f.Type {
	case TypeNumber:
		switch n := v.(type) {
		case float64, int, int64:
			return n, nil
		}
		x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if !isText || err != nil || math.IsInf(x, 0) || math.IsNaN(x) {
			return bad("a number")
		}
		return x, nil
	case TypeBoolean:
		if b, ok := v.(bool); ok {
			return b, nil
		}
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "true", "yes", "1", "on":
			return true, nil
		case "false", "no", "0", "off":
			return false, nil
		}
		return bad("true or false")
	case TypeDate, TypeDateTime:
		if !isText {
			return bad("a date")
		}
		t, ok := ParseTime(s)
		if !ok {
			return bad("a date (write 2026-01-31 or 2026-01-31T09:00:00Z)")
		}
		if f.Type == TypeDate {
			return t.Format("2006-01-02"), nil
		}
		return t.UTC().Format(time.RFC3339), nil
	case TypeEnum:
		var vals []string
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				vals = append(vals, fmt.Sprint(e))
			}
		case []string:
			vals = x
		case string:
			if f.Multiple {
				for _, p := range strings.Split(strings.ReplaceAll(x, ";", ","), ",") {
					if p = strings.TrimSpace(p); p != "" {
						vals = append(vals, p)
					}
				}
			} else {
				vals = []string{x}
			}
		default:
			vals = []string{fmt.Sprint(x)}
		}
		for i, val := range vals {
			if len(f.Options) == 0 {
				continue
			}
			k := slices.IndexFunc(f.Options, func(o string) bool { return strings.EqualFold(o, val) })
			if k < 0 {
				return bad("one of " + strings.Join(f.Options, ", "))
			}
			vals[i] = f.Options[k]
		}
		if f.Multiple {
			return vals, nil
		}
		if len(vals) != 1 {
			return bad("a single choice")
		}
		return vals[0], nil
	}
	if isText {
		return s, nil // text stays text, even when it looks like a number
	}
	return fmt.Sprint(v), nil
}

// FromProvider turns a provider's value of the field into what a table cell
// holds: text for text fields (never a number, even when it looks like one),
// numbers and booleans typed, multi-select values joined with ", ".
func (f *SchemaField) FromProvider(v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			parts = append(parts, fmt.Sprint(e))
		}
		return strings.Join(parts, ", ")
	case float64:
		if f.Type == TypeText || f.Type == TypePhone {
			return strconv.FormatFloat(x, 'f', -1, 64) // text stays text, even when the provider guessed a number
		}
		return x
	case string:
		switch f.Type {
		case TypeNumber:
			if n, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil {
				return n
			}
		case TypeBoolean:
			if b, err := strconv.ParseBool(x); err == nil {
				return b
			}
		}
		return x
	}
	return v
}

// ParseTime reads the instants and dates providers and people write.
func ParseTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.000Z0700", "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02", "01/02/2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil && ms > 1e11 {
		return time.UnixMilli(ms).UTC(), true // HubSpot writes dates as epoch milliseconds
	}
	return time.Time{}, false
}

// ObjectDescriber is implemented by connectors that can describe one object
// in a single call (a sync run checks its object before it starts). An
// object the provider no longer has is an *Error of ClassNotFound.
type ObjectDescriber interface {
	DescribeObject(ctx context.Context, s Session, object string) (SchemaObject, error)
}
