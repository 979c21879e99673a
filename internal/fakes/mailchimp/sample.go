package mailchimp

import (
	"errors"

	"patchbay/internal/fakes/fakekit"
)

var _ fakekit.SampleCreator = (*Fake)(nil)

// CreateSample subscribes a member to the account's first audience, as a
// sign-up form would.
func (f *Fake) CreateSample(account string) (string, error) {
	first, last, email := fakekit.SampleLead()
	if account == "" {
		account = f.kit.DefaultAccount()
	}
	lists := f.Audiences(account)
	if len(lists) == 0 {
		return "", errors.New("the Mailchimp account has no audience")
	}
	f.SeedMembers(account, lists[0].ID, []map[string]any{{"email_address": email, "status": "subscribed", "FNAME": first, "LNAME": last}})
	return "Subscribed " + email + " to the Mailchimp audience " + lists[0].Fields["name"] + ".", nil
}
