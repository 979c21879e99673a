package hubspot

import "patchbay/internal/fakes/fakekit"

var _ fakekit.SampleCreator = (*Fake)(nil)

// CreateSample creates a contact, as a user would in HubSpot.
func (f *Fake) CreateSample(account string) (string, error) {
	first, last, email := fakekit.SampleLead()
	if account == "" {
		account = f.Kit().DefaultAccount()
	}
	if _, err := f.SeedRecords(account, "contacts", []map[string]any{{"email": email, "firstname": first, "lastname": last}}); err != nil {
		return "", err
	}
	return "Created the HubSpot contact " + email + ".", nil
}
