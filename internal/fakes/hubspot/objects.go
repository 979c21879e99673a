package hubspot

import (
	"slices"
	"time"

	"patchbay/internal/fakes/fakekit"
)

// property is one CRM property definition, as GET /crm/v3/properties lists it.
type property struct {
	Name      string
	Label     string
	Type      string // string, number, datetime, enumeration
	FieldType string // text, phonenumber, number, date, select, radio
	Group     string
	Unique    bool     // usable as idProperty for upserts
	ReadOnly  bool     // computed by HubSpot; writes are refused
	Options   []string // enumeration values
}

// objectDef describes a CRM object type the fake serves.
type objectDef struct {
	name     string   // path name: contacts, companies
	label    string   // singular, for messages: contact, company
	modified string   // the last-modified property: contacts differ from every other object
	defaults []string // properties returned when none are asked for
	props    []property
}

func (o *objectDef) readScope() string   { return "crm.objects." + o.name + ".read" }
func (o *objectDef) writeScope() string  { return "crm.objects." + o.name + ".write" }
func (o *objectDef) schemaScope() string { return "crm.schemas." + o.name + ".read" }

func (o *objectDef) prop(name string) (property, bool) {
	i := slices.IndexFunc(o.props, func(p property) bool { return p.Name == name })
	if i < 0 {
		return property{}, false
	}
	return o.props[i], true
}

// The properties every object has; HubSpot computes them.
func systemProps(modified string) []property {
	return []property{
		{Name: "createdate", Label: "Create date", Type: "datetime", FieldType: "date", Group: "system", ReadOnly: true},
		{Name: modified, Label: "Last modified date", Type: "datetime", FieldType: "date", Group: "system", ReadOnly: true},
		{Name: "hs_object_id", Label: "Record ID", Type: "number", FieldType: "number", Group: "system", ReadOnly: true},
	}
}

var objects = map[string]*objectDef{
	"contacts": {
		name: "contacts", label: "contact", modified: "lastmodifieddate",
		defaults: []string{"createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"},
		props: append([]property{
			{Name: "email", Label: "Email", Type: "string", FieldType: "text", Group: "contactinformation", Unique: true},
			{Name: "firstname", Label: "First name", Type: "string", FieldType: "text", Group: "contactinformation"},
			{Name: "lastname", Label: "Last name", Type: "string", FieldType: "text", Group: "contactinformation"},
			{Name: "company", Label: "Company name", Type: "string", FieldType: "text", Group: "contactinformation"},
			{Name: "phone", Label: "Phone number", Type: "string", FieldType: "phonenumber", Group: "contactinformation"},
			{Name: "jobtitle", Label: "Job title", Type: "string", FieldType: "text", Group: "contactinformation"},
			{Name: "lifecyclestage", Label: "Lifecycle stage", Type: "enumeration", FieldType: "radio", Group: "contactinformation"},
			{Name: "segment", Label: "Segment", Type: "string", FieldType: "text", Group: "contactinformation"},
		}, systemProps("lastmodifieddate")...),
	},
	"companies": {
		name: "companies", label: "company", modified: "hs_lastmodifieddate",
		defaults: []string{"createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"},
		props: append([]property{
			{Name: "name", Label: "Company name", Type: "string", FieldType: "text", Group: "companyinformation"},
			{Name: "domain", Label: "Company domain name", Type: "string", FieldType: "text", Group: "companyinformation"},
			{Name: "industry", Label: "Industry", Type: "enumeration", FieldType: "select", Group: "companyinformation"},
			{Name: "phone", Label: "Phone number", Type: "string", FieldType: "phonenumber", Group: "companyinformation"},
			{Name: "city", Label: "City", Type: "string", FieldType: "text", Group: "companyinformation"},
			{Name: "numberofemployees", Label: "Number of employees", Type: "number", FieldType: "number", Group: "companyinformation"},
		}, systemProps("hs_lastmodifieddate")...),
	},
}

// objectAliases are HubSpot's numeric object type ids, accepted in paths.
var objectAliases = map[string]string{"0-1": "contacts", "0-2": "companies"}

func lookupObject(name string) (*objectDef, bool) {
	if alias, ok := objectAliases[name]; ok {
		name = alias
	}
	def, ok := objects[name]
	return def, ok
}

// scopes are the OAuth scopes the fake knows, worded as the catalog words them.
var scopes = []fakekit.Scope{
	{Name: "oauth", Description: "Identify the HubSpot account and user that approved the app."},
	{Name: "crm.objects.contacts.read", Description: "Read contacts and their properties."},
	{Name: "crm.objects.contacts.write", Description: "Create and update contacts."},
	{Name: "crm.objects.companies.read", Description: "Read companies and their properties."},
	{Name: "crm.objects.companies.write", Description: "Create and update companies."},
	{Name: "crm.schemas.contacts.read", Description: "Read the list of contact properties."},
	{Name: "crm.schemas.companies.read", Description: "Read the list of company properties."},
}

// timeFormat is how HubSpot writes instants: UTC with milliseconds.
const timeFormat = "2006-01-02T15:04:05.000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

// value resolves a property of a stored record, including the ones HubSpot
// computes from the record itself.
func (o *objectDef) value(r fakekit.Record, name string) (string, bool) {
	switch name {
	case "hs_object_id":
		return r.ID, true
	case "createdate":
		return formatTime(r.CreatedAt), true
	case o.modified:
		return formatTime(r.UpdatedAt), true
	}
	v, ok := r.Fields[name]
	return v, ok
}

// apiObject is HubSpot's SimplePublicObject.
type apiObject struct {
	ID                 string             `json:"id"`
	Properties         map[string]*string `json:"properties"`
	CreatedAt          string             `json:"createdAt"`
	UpdatedAt          string             `json:"updatedAt"`
	Archived           bool               `json:"archived"`
	New                *bool              `json:"new,omitempty"` // upsert results only
	ObjectWriteTraceID string             `json:"objectWriteTraceId,omitempty"`
}

// render shapes a record for the API with the requested properties (the
// defaults when none); the identity and timestamp properties always come
// along, and known properties without a value come back as null.
func (o *objectDef) render(r fakekit.Record, want []string) apiObject {
	if len(want) == 0 {
		want = o.defaults
	}
	props := map[string]*string{}
	for _, name := range append(slices.Clone(want), "hs_object_id", "createdate", o.modified) {
		if v, ok := o.value(r, name); ok {
			props[name] = &v
		} else if _, known := o.prop(name); known {
			props[name] = nil
		}
	}
	return apiObject{ID: r.ID, Properties: props, CreatedAt: formatTime(r.CreatedAt), UpdatedAt: formatTime(r.UpdatedAt)}
}
