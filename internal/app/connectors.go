package app

import (
	"patchbay/internal/catalog"
	"patchbay/internal/connector"
	"patchbay/internal/connector/airtable"
	"patchbay/internal/connector/dataprovider"
	"patchbay/internal/connector/hubspot"
	"patchbay/internal/connector/mailchimp"
	"patchbay/internal/connector/salesforce"
	"patchbay/internal/connector/shopify"
	"patchbay/internal/connector/webhook"
)

// Connectors returns the registry of every built-in connector. Adding a
// provider is one catalog entry plus one line here.
func Connectors() (*connector.Registry, error) {
	reg := connector.NewRegistry()
	for id, c := range map[string]connector.Connector{
		"hubspot":      hubspot.New(),
		"dataprovider": dataprovider.New(),
		"salesforce":   salesforce.New(),
		"airtable":     airtable.New(),
		"shopify":      shopify.New(),
		"webhook":      webhook.New(),
		// One client for both Mailchimp entries (OAuth and API key).
		"mailchimp": mailchimp.New(), "mailchimp_key": mailchimp.New(),
	} {
		if err := reg.Register(id, c); err != nil {
			return nil, err
		}
	}
	return reg, nil
}

// OAuthProviders lists the catalog's OAuth providers (their client
// credentials come from PATCHBAY_<ID>_CLIENT_ID / _CLIENT_SECRET).
func OAuthProviders() []string {
	cat, err := catalog.Load()
	if err != nil {
		return nil
	}
	var ids []string
	for _, p := range cat.All() {
		if p.Auth == catalog.AuthOAuth2 {
			ids = append(ids, p.ID)
		}
	}
	return ids
}
