package airtable

import "patchbay/internal/fakes/fakekit"

var _ fakekit.SampleCreator = (*Fake)(nil)

// CreateSample adds a record to the Contacts table of the account's first
// base, as a user typing a row in Airtable would.
func (f *Fake) CreateSample(account string) (string, error) {
	first, last, email := fakekit.SampleLead()
	if account == "" {
		account = f.kit.DefaultAccount()
	}
	base := BaseID(account, 1)
	if _, err := f.SeedRecords(account, base, "Contacts", []map[string]any{{"Name": first + " " + last, "Email": email}}); err != nil {
		return "", err
	}
	return "Added " + email + " to Contacts in the Airtable base " + base + ".", nil
}
