package airtable

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"patchbay/internal/fakes/fakekit"
)

// fieldDef is a field of a demo table: its name, Airtable type and, for
// selects, its choices.
type fieldDef struct {
	name    string
	typ     string
	choices []string
}

// tableDef is a table of a demo base.
type tableDef struct {
	name   string
	fields []fieldDef
}

// table is a table as an account has it now: its name and live field names.
type table struct {
	name   string
	fields []string
}

var segments = []string{"Enterprise", "Mid-market", "SMB"}

// demoTables are the tables of each demo base (1 Sales CRM, 2 Marketing),
// with a mix of Airtable's field types. Zip is text that looks like a number.
var demoTables = map[int][]tableDef{
	1: {
		{"Contacts", []fieldDef{{"Name", "singleLineText", nil}, {"Email", "email", nil}, {"Phone", "phoneNumber", nil},
			{"Company", "singleLineText", nil}, {"Segment", "singleSelect", segments}, {"Notes", "multilineText", nil},
			{"Lead Score", "number", nil}, {"Subscribed", "checkbox", nil}, {"Last Contacted", "date", nil},
			{"Tags", "multipleSelects", []string{"VIP", "Newsletter", "Event"}}, {"Zip", "singleLineText", nil}}},
		{"Companies", []fieldDef{{"Name", "singleLineText", nil}, {"Domain", "url", nil}, {"Industry", "singleLineText", nil}, {"Employees", "number", nil}}},
		{"Deals", []fieldDef{{"Name", "singleLineText", nil}, {"Amount", "currency", nil}, {"Stage", "singleSelect", []string{"Prospecting", "Proposal", "Won", "Lost"}},
			{"Close Date", "date", nil}, {"Updated", "dateTime", nil}}},
	},
	2: {
		{"Contacts", []fieldDef{{"Name", "singleLineText", nil}, {"Email", "email", nil}, {"Phone", "phoneNumber", nil},
			{"Company", "singleLineText", nil}, {"Segment", "singleSelect", segments}, {"Notes", "multilineText", nil}}},
		{"Companies", []fieldDef{{"Name", "singleLineText", nil}, {"Domain", "url", nil}, {"Industry", "singleLineText", nil}, {"Employees", "number", nil}}},
		{"Campaigns", []fieldDef{{"Name", "singleLineText", nil}, {"Channel", "singleSelect", []string{"Email", "Social", "Events"}},
			{"Budget", "currency", nil}, {"Starts", "dateTime", nil}, {"Audience Size", "number", nil}}},
	},
}

// fieldTypes are the Airtable field types /_control/fields may add.
var fieldTypes = []string{"singleLineText", "multilineText", "email", "url", "phoneNumber", "number", "currency", "percent",
	"checkbox", "date", "dateTime", "singleSelect", "multipleSelects"}

// baseTables are the table definitions of one of account's bases; any
// other base id (seeded directly by tests) has the first demo base's tables.
func baseTables(account, base string) []tableDef {
	for n, defs := range demoTables {
		if BaseID(account, n) == base {
			return defs
		}
	}
	return demoTables[1]
}

// liveFields are a table's fields as the account has them now: the demo's,
// less those deleted, plus those added.
func (f *Fake) liveFields(account, base string, t tableDef) []fieldDef {
	key := base + "/" + t.name
	var out []fieldDef
	for _, d := range t.fields {
		if !f.fields.Deleted(account, key, d.name) {
			out = append(out, d)
		}
	}
	for _, c := range f.fields.Custom(account, key) {
		out = append(out, fieldDef{name: c.Name, typ: c.Type, choices: c.Options})
	}
	return out
}

// lookupTable finds a table of account's base by id or name.
func (f *Fake) lookupTable(account, base, idOrName string) (table, bool) {
	for _, t := range baseTables(account, base) {
		if idOrName == tableID(base, t.name) || strings.EqualFold(idOrName, t.name) {
			live := table{name: t.name}
			for _, d := range f.liveFields(account, base, t) {
				live.fields = append(live.fields, d.name)
			}
			return live, true
		}
	}
	return table{}, false
}

// knownTable says whether object ("<base id>/<table id or name>") is a
// table of account's, and returns the key its fields are kept under.
func (f *Fake) knownTable(account, object string) (string, bool) {
	base, tbl, ok := strings.Cut(object, "/")
	if !ok {
		return "", false
	}
	t, found := f.lookupTable(account, base, tbl)
	return base + "/" + t.name, found
}

// checkField accepts an Airtable field type, singleLineText by default.
func checkField(_ string, c fakekit.CustomField) (fakekit.CustomField, error) {
	if c.Type == "" {
		c.Type = "singleLineText"
	}
	if !slices.Contains(fieldTypes, c.Type) {
		return c, fmt.Errorf("unknown Airtable field type %q; use one of %s", c.Type, strings.Join(fieldTypes, ", "))
	}
	return c, nil
}

// AddField adds a field to a table of account's base, as a user does in Airtable.
func (f *Fake) AddField(account, base, tableName, name, typ string, choices ...string) {
	t, _ := f.lookupTable(account, base, tableName)
	f.fields.Add(account, base+"/"+t.name, fakekit.CustomField{Name: name, Type: typ, Label: name, Options: choices})
}

// TableID is the id of a demo table of a base.
func TableID(base, name string) string { return tableID(base, name) }

// options renders a field's type options as Airtable does.
func (d fieldDef) options() map[string]any {
	switch d.typ {
	case "singleSelect", "multipleSelects":
		choices := []map[string]string{}
		for _, c := range d.choices {
			choices = append(choices, map[string]string{"id": idOf("sel", d.name+"/"+c), "name": c, "color": "blueLight2"})
		}
		return map[string]any{"choices": choices}
	case "number":
		return map[string]any{"precision": 0}
	case "currency":
		return map[string]any{"precision": 2, "symbol": "$"}
	case "percent":
		return map[string]any{"precision": 0}
	case "checkbox":
		return map[string]any{"icon": "check", "color": "greenBright"}
	case "date":
		return map[string]any{"dateFormat": map[string]string{"name": "iso", "format": "YYYY-MM-DD"}}
	case "dateTime":
		return map[string]any{"dateFormat": map[string]string{"name": "iso", "format": "YYYY-MM-DD"},
			"timeFormat": map[string]string{"name": "24hour", "format": "HH:mm"}, "timeZone": "utc"}
	}
	return nil
}

// schema is GET /v0/meta/bases/{base}/tables: every table with its fields,
// their types and options, and its views.
func (f *Fake) schema(w http.ResponseWriter, _ *http.Request, c fakekit.Call, base string) {
	out := []map[string]any{}
	for _, t := range baseTables(c.Account, base) {
		fields := []map[string]any{}
		for _, d := range f.liveFields(c.Account, base, t) {
			fd := map[string]any{"id": fieldID(base, t.name, d.name), "name": d.name, "type": d.typ}
			if o := d.options(); o != nil {
				fd["options"] = o
			}
			fields = append(fields, fd)
		}
		primary := ""
		if len(fields) > 0 {
			primary = fields[0]["id"].(string)
		}
		out = append(out, map[string]any{"id": tableID(base, t.name), "name": t.name, "primaryFieldId": primary, "fields": fields,
			"views": []map[string]string{{"id": idOf("viw", base+"/"+t.name), "name": "Grid view", "type": "grid"}}})
	}
	fakekit.WriteJSON(w, http.StatusOK, map[string]any{"tables": out})
}
