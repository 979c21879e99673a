package airtable

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"patchbay/internal/connector"
)

var (
	_ connector.SchemaReader = (*Connector)(nil)
	_ connector.Filterer     = (*Connector)(nil)
)

// sharedBase is a base of GET /v0/meta/bases.
type sharedBase struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// sharedBases pages through GET /v0/meta/bases.
func (c *Connector) sharedBases(ctx context.Context, s connector.Session) ([]sharedBase, error) {
	var all []sharedBase
	offset := ""
	for {
		var out struct {
			Bases  []sharedBase `json:"bases"`
			Offset string       `json:"offset"`
		}
		path := "/v0/meta/bases"
		if offset != "" {
			path += "?" + url.Values{"offset": {offset}}.Encode()
		}
		if err := c.do(ctx, s, call{method: http.MethodGet, path: path, out: &out}); err != nil {
			return nil, err
		}
		all = append(all, out.Bases...)
		if offset = out.Offset; offset == "" {
			return all, nil
		}
	}
}

type apiField struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Type    string `json:"type"`
	Options struct {
		Choices []struct {
			Name string `json:"name"`
		} `json:"choices"`
	} `json:"options"`
}

// Schema lists the bases the grant covers (those of the connection's
// settings, or every shared base when it names none) and each base's tables
// with their fields: one GET /v0/meta/bases (a page per 1000 bases) plus one
// GET /v0/meta/bases/{id}/tables per base. Objects are "<base id>/<table id>",
// labelled with the table's name.
func (c *Connector) Schema(ctx context.Context, s connector.Session) (connector.Schema, error) {
	bases, err := c.sharedBases(ctx, s)
	if err != nil {
		return connector.Schema{}, err
	}
	want := Bases(s.Config)
	var sc connector.Schema
	for _, b := range bases {
		if len(want) > 0 && !slices.Contains(want, b.ID) {
			continue
		}
		objs, err := c.baseTables(ctx, s, b.ID)
		if err != nil {
			return connector.Schema{}, err
		}
		sc.Objects = append(sc.Objects, objs...)
	}
	return sc, nil
}

// readOnlyTypes are Airtable's computed field types.
var readOnlyTypes = []string{"formula", "rollup", "count", "lookup", "multipleLookupValues", "autoNumber", "createdTime",
	"lastModifiedTime", "createdBy", "lastModifiedBy", "button", "externalSyncSource", "aiText"}

// schemaField maps an Airtable field. Every Airtable field is the user's own,
// so all are custom; any writable scalar field can be merged on in an upsert
// (performUpsert.fieldsToMergeOn), so those are offered as unique keys.
func schemaField(f apiField) connector.SchemaField {
	out := connector.SchemaField{Name: f.Name, Label: f.Name, Custom: true, Writable: !slices.Contains(readOnlyTypes, f.Type)}
	switch f.Type {
	case "singleLineText", "multilineText", "richText":
		out.Type = connector.TypeText
	case "email":
		out.Type = connector.TypeEmail
	case "url":
		out.Type = connector.TypeURL
	case "phoneNumber":
		out.Type = connector.TypePhone
	case "number", "currency", "percent", "duration", "rating", "count", "autoNumber":
		out.Type = connector.TypeNumber
	case "checkbox":
		out.Type = connector.TypeBoolean
	case "date":
		out.Type = connector.TypeDate
	case "dateTime", "createdTime", "lastModifiedTime":
		out.Type = connector.TypeDateTime
	case "singleSelect", "multipleSelects":
		out.Type, out.Multiple = connector.TypeEnum, f.Type == "multipleSelects"
		for _, ch := range f.Options.Choices {
			out.Options = append(out.Options, ch.Name)
		}
	default:
		out.Type = connector.TypeJSON
	}
	out.Unique = out.Writable && out.Type != connector.TypeJSON && !out.Multiple && out.Type != connector.TypeBoolean
	return out
}

// CanFilter says whether filterByFormula can express f: equality,
// inequality and emptiness on any field, order comparisons on numbers and
// instants.
func (c *Connector) CanFilter(_ string, f connector.Filter) bool {
	for _, g := range f {
		for _, cond := range g {
			if cond.Field == "" || strings.ContainsAny(cond.Field, "{}") {
				return false
			}
			switch cond.Op {
			case connector.OpEq, connector.OpNeq, connector.OpIn, connector.OpNotIn, connector.OpEmpty, connector.OpNotEmpty:
			case connector.OpLt, connector.OpLte, connector.OpGt, connector.OpGte:
				if _, isText := cond.Values[0].(string); isText {
					return false
				}
			default:
				return false
			}
		}
	}
	return true
}

// formula renders f as an Airtable formula; text compares without regard
// to case (LOWER on both sides), as Patchbay's filters do.
func formula(f connector.Filter) string {
	groups := make([]string, 0, len(f))
	for _, g := range f {
		conds := make([]string, 0, len(g))
		for _, cond := range g {
			conds = append(conds, condition(cond))
		}
		groups = append(groups, "AND("+strings.Join(conds, ", ")+")")
	}
	if len(groups) == 1 {
		return groups[0]
	}
	return "OR(" + strings.Join(groups, ", ") + ")"
}

func condition(c connector.Condition) string {
	ref := "{" + c.Field + "}"
	eq := func(v any) string {
		switch v := v.(type) {
		case string:
			return "LOWER(" + ref + ") = " + quote(strings.ToLower(v))
		case time.Time:
			return "IS_SAME(" + ref + ", " + quote(v.UTC().Format(formulaTime)) + ")"
		default:
			return ref + " = " + literal(v)
		}
	}
	switch c.Op {
	case connector.OpEq:
		return eq(c.Values[0])
	case connector.OpNeq:
		return "NOT(" + eq(c.Values[0]) + ")"
	case connector.OpIn, connector.OpNotIn:
		parts := make([]string, len(c.Values))
		for i, v := range c.Values {
			parts[i] = eq(v)
		}
		in := "OR(" + strings.Join(parts, ", ") + ")"
		if c.Op == connector.OpNotIn {
			return "NOT(" + in + ")"
		}
		return in
	case connector.OpEmpty:
		return ref + " = ''"
	case connector.OpNotEmpty:
		return "NOT(" + ref + " = '')"
	}
	op := map[connector.Op]string{connector.OpLt: "<", connector.OpLte: "<=", connector.OpGt: ">", connector.OpGte: ">="}[c.Op]
	if t, ok := c.Values[0].(time.Time); ok {
		switch c.Op {
		case connector.OpLt:
			return "IS_BEFORE(" + ref + ", " + quote(t.UTC().Format(formulaTime)) + ")"
		case connector.OpGt:
			return "IS_AFTER(" + ref + ", " + quote(t.UTC().Format(formulaTime)) + ")"
		case connector.OpLte:
			return "NOT(IS_AFTER(" + ref + ", " + quote(t.UTC().Format(formulaTime)) + "))"
		default:
			return "NOT(IS_BEFORE(" + ref + ", " + quote(t.UTC().Format(formulaTime)) + "))"
		}
	}
	return ref + " " + op + " " + literal(c.Values[0])
}

func literal(v any) string {
	switch v := v.(type) {
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case string:
		return quote(v)
	}
	return quote(fmt.Sprint(v))
}

// quote writes a formula string literal.
func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

var _ connector.ObjectDescriber = (*Connector)(nil)

// DescribeObject reads one table's fields: one GET /v0/meta/bases/{id}/tables.
func (c *Connector) DescribeObject(ctx context.Context, s connector.Session, object string) (connector.SchemaObject, error) {
	base, tbl, err := table(s, object)
	if err != nil {
		return connector.SchemaObject{}, err
	}
	objs, err := c.baseTables(ctx, s, base)
	if err != nil {
		return connector.SchemaObject{}, err
	}
	for _, o := range objs {
		if o.Name == base+"/"+tbl || strings.EqualFold(o.Label, tbl) {
			return o, nil
		}
	}
	return connector.SchemaObject{}, &connector.Error{Class: connector.ClassNotFound, Message: fmt.Sprintf("base %s has no table %s", base, tbl)}
}

// baseTables reads a base's tables and their fields: GET /v0/meta/bases/{id}/tables.
func (c *Connector) baseTables(ctx context.Context, s connector.Session, base string) ([]connector.SchemaObject, error) {
	var out struct {
		Tables []struct {
			ID     string     `json:"id"`
			Name   string     `json:"name"`
			Fields []apiField `json:"fields"`
		} `json:"tables"`
	}
	if err := c.do(ctx, s, call{method: http.MethodGet, base: base, path: "/v0/meta/bases/" + base + "/tables", out: &out}); err != nil {
		return nil, fmt.Errorf("tables of base %s: %w", base, err)
	}
	objs := make([]connector.SchemaObject, 0, len(out.Tables))
	for _, t := range out.Tables {
		obj := connector.SchemaObject{Name: base + "/" + t.ID, Label: t.Name, Fields: []connector.SchemaField{}}
		for _, f := range t.Fields {
			obj.Fields = append(obj.Fields, schemaField(f))
		}
		objs = append(objs, obj)
	}
	return objs, nil
}
