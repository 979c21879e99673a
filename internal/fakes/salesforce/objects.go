package salesforce

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"patchbay/internal/fakes/fakekit"
)

// Field types the fake knows.
const (
	typeID       = "id"
	typeString   = "string"
	typeInt      = "int"
	typeDateTime = "datetime"
)

type field struct {
	name       string
	typ        string
	required   bool // on create
	readOnly   bool // system fields
	externalID bool // usable for upsert
}

type objectDef struct {
	name   string
	prefix string // key prefix of its ids
	fields []field
}

func (o *objectDef) field(name string) (field, bool) {
	i := slices.IndexFunc(o.fields, func(f field) bool { return strings.EqualFold(f.name, name) })
	if i < 0 {
		return field{}, false
	}
	return o.fields[i], true
}

func system() []field {
	return []field{
		{name: "CreatedDate", typ: typeDateTime, readOnly: true},
		{name: "LastModifiedDate", typ: typeDateTime, readOnly: true},
		{name: "SystemModstamp", typ: typeDateTime, readOnly: true},
		// An org's custom external id field, as admins create for integrations.
		{name: "External_Id__c", typ: typeString, externalID: true},
	}
}

var objects = map[string]*objectDef{
	"Contact": {name: "Contact", prefix: "003", fields: append([]field{
		{name: "Id", typ: typeID, readOnly: true},
		{name: "FirstName", typ: typeString}, {name: "LastName", typ: typeString, required: true},
		{name: "Email", typ: typeString}, {name: "Phone", typ: typeString}, {name: "Title", typ: typeString},
		{name: "AccountId", typ: typeString}, {name: "LeadSource", typ: typeString},
	}, system()...)},
	"Lead": {name: "Lead", prefix: "00Q", fields: append([]field{
		{name: "Id", typ: typeID, readOnly: true},
		{name: "FirstName", typ: typeString}, {name: "LastName", typ: typeString, required: true},
		{name: "Company", typ: typeString, required: true}, {name: "Email", typ: typeString},
		{name: "Phone", typ: typeString}, {name: "Title", typ: typeString}, {name: "Status", typ: typeString},
		{name: "LeadSource", typ: typeString}, {name: "Industry", typ: typeString},
	}, system()...)},
	"Account": {name: "Account", prefix: "001", fields: append([]field{
		{name: "Id", typ: typeID, readOnly: true},
		{name: "Name", typ: typeString, required: true}, {name: "Website", typ: typeString},
		{name: "Industry", typ: typeString}, {name: "Phone", typ: typeString}, {name: "BillingCity", typ: typeString},
		{name: "NumberOfEmployees", typ: typeInt}, {name: "Type", typ: typeString},
	}, system()...)},
}

// lookupObject finds an sObject by name, case-insensitively as Salesforce does.
func lookupObject(name string) (*objectDef, bool) {
	for n, def := range objects {
		if strings.EqualFold(n, name) {
			return def, true
		}
	}
	return nil, false
}

// timeFormat is how the REST API writes datetimes.
const timeFormat = "2006-01-02T15:04:05.000-0700"

// value is a field of a stored record as a string ("" when null), with the
// system fields computed from the record.
func (o *objectDef) value(r fakekit.Record, name string) string {
	switch name {
	case "Id":
		return sfid(o.prefix, r.ID)
	case "CreatedDate":
		return r.CreatedAt.UTC().Format(timeFormat)
	case "LastModifiedDate", "SystemModstamp":
		return r.UpdatedAt.UTC().Format(timeFormat)
	}
	return r.Fields[name]
}

// jsonValue renders a field for a response: typed, null when empty.
func (o *objectDef) jsonValue(r fakekit.Record, f field) any {
	v := o.value(r, f.name)
	if v == "" {
		return nil
	}
	if f.typ == typeInt {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n
		}
	}
	return v
}

// render shapes a record as the query resource returns it.
func (o *objectDef) render(r fakekit.Record, fields []field) map[string]any {
	out := map[string]any{"attributes": map[string]string{
		"type": o.name, "url": "/services/data/" + APIVersion + "/sobjects/" + o.name + "/" + sfid(o.prefix, r.ID),
	}}
	for _, f := range fields {
		out[f.name] = o.jsonValue(r, f)
	}
	return out
}

// parseTime reads a SOQL datetime literal or a stored datetime.
func parseTime(s string) (time.Time, bool) {
	for _, layout := range []string{timeFormat, time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}
