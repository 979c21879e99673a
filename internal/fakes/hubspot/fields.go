package hubspot

import (
	"fmt"
	"slices"
	"strings"

	"patchbay/internal/fakes/fakekit"
)

// accountDef is def as account has it: its properties less those deleted,
// plus the custom ones added (group "custom").
func (f *Fake) accountDef(account string, def *objectDef) *objectDef {
	custom := f.fields.Custom(account, def.name)
	out := *def
	out.props = slices.DeleteFunc(slices.Clone(def.props), func(p property) bool { return f.fields.Deleted(account, def.name, p.Name) })
	for _, c := range custom {
		p := property{Name: c.Name, Label: c.Label, Type: c.Type, Group: "custom", Options: c.Options}
		switch c.Type {
		case "number":
			p.FieldType = "number"
		case "datetime", "date":
			p.FieldType = "date"
		case "bool":
			p.FieldType = "booleancheckbox"
		case "enumeration":
			p.FieldType = "select"
		default:
			p.FieldType = "text"
		}
		out.props = append(out.props, p)
	}
	return &out
}

func knownObject(_, object string) (string, bool) {
	def, ok := lookupObject(object)
	if !ok {
		return "", false
	}
	return def.name, true
}

// propertyTypes are HubSpot's property types.
var propertyTypes = []string{"string", "number", "date", "datetime", "enumeration", "bool"}

// checkProperty accepts a HubSpot property: a lower-case internal name and a type.
func checkProperty(_ string, c fakekit.CustomField) (fakekit.CustomField, error) {
	if c.Type == "" {
		c.Type = "string"
	}
	if !slices.Contains(propertyTypes, c.Type) {
		return c, fmt.Errorf("unknown HubSpot property type %q; use one of %s", c.Type, strings.Join(propertyTypes, ", "))
	}
	if c.Name != strings.ToLower(c.Name) || strings.ContainsAny(c.Name, " -") {
		return c, fmt.Errorf("HubSpot property names are lower-case with underscores, like lead_score")
	}
	return c, nil
}

// AddProperty adds a custom property to an account's object, as a user does in HubSpot's settings.
func (f *Fake) AddProperty(account, object, name, label, typ string, options ...string) {
	f.fields.Add(account, object, fakekit.CustomField{Name: name, Label: label, Type: typ, Options: options})
}
