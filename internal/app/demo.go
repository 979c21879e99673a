package app

import (
	"context"
	"fmt"
	"maps"

	fakeairtable "patchbay/internal/fakes/airtable"
	fakedataprovider "patchbay/internal/fakes/dataprovider"
	fakehubspot "patchbay/internal/fakes/hubspot"
	fakesalesforce "patchbay/internal/fakes/salesforce"
)

// Demo OAuth client registration shared by Patchbay and the local fakes.
const (
	demoClientID     = "patchbay-demo"
	demoClientSecret = "patchbay-demo-secret"
)

// DemoFakes builds the local provider fakes that `patchbay demo` serves.
func DemoFakes() map[string]Fake {
	fakes := map[string]Fake{
		"hubspot": {Handler: fakehubspot.New(fakehubspot.Options{ClientID: demoClientID, ClientSecret: demoClientSecret}),
			ClientID: demoClientID, ClientSecret: demoClientSecret},
		"dataprovider": {Handler: fakedataprovider.New(fakedataprovider.Options{DemoKey: DemoDataProviderKey})},
		"salesforce": {Handler: fakesalesforce.New(fakesalesforce.Options{ClientID: demoClientID, ClientSecret: demoClientSecret}),
			ClientID: demoClientID, ClientSecret: demoClientSecret},
		"airtable": {Handler: fakeairtable.New(fakeairtable.Options{ClientID: demoClientID, ClientSecret: demoClientSecret}),
			ClientID: demoClientID, ClientSecret: demoClientSecret},
	}
	maps.Copy(fakes, demoCommerceFakes())
	return fakes
}

// SeedDemo puts sample records into the fakes so that a first sync has data.
func SeedDemo(ctx context.Context, fakes map[string]Fake) error {
	if err := seedSalesforceAndAirtable(fakes); err != nil {
		return err
	}
	if err := seedCommerce(ctx, fakes); err != nil {
		return err
	}
	hs, ok := fakes["hubspot"].Handler.(*fakehubspot.Fake)
	if !ok {
		return nil
	}
	segments := []string{"Enterprise", "SMB", "Mid-market"}
	var contacts, companies []map[string]any
	for i := 1; i <= 40; i++ {
		contacts = append(contacts, map[string]any{
			"email": fmt.Sprintf("lead%02d@example%d.com", i, i%7), "firstname": fmt.Sprintf("Lead%02d", i), "lastname": "Sample",
			"company": fmt.Sprintf("Example %d", i%7), "segment": segments[i%3],
		})
	}
	for i := 0; i < 7; i++ {
		companies = append(companies, map[string]any{"name": fmt.Sprintf("Example %d", i), "domain": fmt.Sprintf("example%d.com", i)})
	}
	// A custom property, as real portals have: a lead score set on every sample contact.
	hs.AddProperty(hs.Kit().DefaultAccount(), "contacts", "lead_score", "Lead score", "number")
	for i := range contacts {
		contacts[i]["lead_score"] = (i * 37) % 100
	}
	if _, err := hs.SeedRecords(hs.Kit().DefaultAccount(), "contacts", contacts); err != nil {
		return fmt.Errorf("seed demo contacts: %w", err)
	}
	if _, err := hs.SeedRecords(hs.Kit().DefaultAccount(), "companies", companies); err != nil {
		return fmt.Errorf("seed demo companies: %w", err)
	}
	return ctx.Err()
}

// DemoDataProviderKey is the API key the demo's data provider fake accepts.
const DemoDataProviderKey = "dp_demo_key"
