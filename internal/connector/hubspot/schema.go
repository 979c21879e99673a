package hubspot

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"patchbay/internal/connector"
)

var (
	_ connector.SchemaReader    = (*Connector)(nil)
	_ connector.ObjectDescriber = (*Connector)(nil)
)

// schemaObjects are the CRM objects Patchbay offers, with their labels.
var schemaObjects = []struct{ name, label string }{{"contacts", "Contacts"}, {"companies", "Companies"}}

// Schema reads every offered object's properties: one GET
// /crm/v3/properties/{objectType} per object (two requests).
func (c *Connector) Schema(ctx context.Context, s connector.Session) (connector.Schema, error) {
	var sc connector.Schema
	for _, o := range schemaObjects {
		obj, err := c.DescribeObject(ctx, s, o.name)
		if err != nil {
			return connector.Schema{}, err
		}
		sc.Objects = append(sc.Objects, obj)
	}
	return sc, nil
}

// DescribeObject reads one object's properties: custom ones (not
// hubspotDefined), their types, read-only values, unique values and
// enumeration options.
func (c *Connector) DescribeObject(ctx context.Context, s connector.Session, object string) (connector.SchemaObject, error) {
	label := object
	for _, o := range schemaObjects {
		if o.name == object {
			label = o.label
		}
	}
	var out struct {
		Results []struct {
			Name                 string `json:"name"`
			Label                string `json:"label"`
			Type                 string `json:"type"`
			FieldType            string `json:"fieldType"`
			HasUniqueValue       bool   `json:"hasUniqueValue"`
			HubspotDefined       bool   `json:"hubspotDefined"`
			Calculated           bool   `json:"calculated"`
			ModificationMetadata struct {
				ReadOnlyValue bool `json:"readOnlyValue"`
			} `json:"modificationMetadata"`
			Options []struct {
				Value string `json:"value"`
			} `json:"options"`
		} `json:"results"`
	}
	if err := c.do(ctx, s, call{method: http.MethodGet, path: "/crm/v3/properties/" + url.PathEscape(object), out: &out}); err != nil {
		return connector.SchemaObject{}, fmt.Errorf("properties of %s: %w", object, err)
	}
	obj := connector.SchemaObject{Name: object, Label: label, Fields: []connector.SchemaField{}}
	for _, p := range out.Results {
		f := connector.SchemaField{Name: p.Name, Label: p.Label, Unique: p.HasUniqueValue || uniqueProperty(object, p.Name),
			Writable: !p.ModificationMetadata.ReadOnlyValue && !p.Calculated, Custom: !p.HubspotDefined}
		switch {
		case p.Type == "number":
			f.Type = connector.TypeNumber
		case p.Type == "bool" || p.FieldType == "booleancheckbox":
			f.Type = connector.TypeBoolean
		case p.Type == "date":
			f.Type = connector.TypeDate
		case p.Type == "datetime":
			f.Type = connector.TypeDateTime
		case p.Type == "enumeration":
			f.Type, f.Multiple = connector.TypeEnum, p.FieldType == "checkbox"
			for _, o := range p.Options {
				f.Options = append(f.Options, o.Value)
			}
		case p.FieldType == "phonenumber":
			f.Type = connector.TypePhone
		case p.Name == "email":
			f.Type = connector.TypeEmail
		default:
			f.Type = connector.TypeText
		}
		obj.Fields = append(obj.Fields, f)
	}
	return obj, nil
}
