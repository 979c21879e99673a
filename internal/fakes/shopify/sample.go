package shopify

import "patchbay/internal/fakes/fakekit"

var _ fakekit.SampleCreator = (*Fake)(nil)

// CreateSample creates a customer, as a merchant would in the Shopify admin.
func (f *Fake) CreateSample(account string) (string, error) {
	first, last, email := fakekit.SampleLead()
	if account == "" {
		account = f.kit.DefaultAccount()
	}
	f.kit.Records(account, "customers").Seed([]map[string]any{{"email": email, "firstName": first, "lastName": last}})
	return "Created the Shopify customer " + email + " in " + account + ".", nil
}
