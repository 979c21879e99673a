package salesforce

import "patchbay/internal/fakes/fakekit"

var _ fakekit.SampleCreator = (*Fake)(nil)

// CreateSample creates a lead, as a user would in Salesforce.
func (f *Fake) CreateSample(account string) (string, error) {
	first, last, email := fakekit.SampleLead()
	if account == "" {
		account = f.Kit().DefaultAccount()
	}
	if _, err := f.SeedRecords(account, "Lead", []map[string]any{{"FirstName": first, "LastName": last, "Email": email,
		"Company": "Demo Inc", "Status": "Open - Not Contacted"}}); err != nil {
		return "", err
	}
	return "Created the Salesforce lead " + email + ".", nil
}
