package app

import (
	"fmt"

	fakeairtable "patchbay/internal/fakes/airtable"
	fakesalesforce "patchbay/internal/fakes/salesforce"
)

// seedSalesforceAndAirtable puts a few sample records into the Salesforce and
// Airtable fakes: leads, contacts and accounts of the demo org, and contacts
// in the demo account's first Airtable base.
func seedSalesforceAndAirtable(fakes map[string]Fake) error {
	if sf, ok := fakes["salesforce"].Handler.(*fakesalesforce.Fake); ok {
		acct := sf.Kit().DefaultAccount()
		seed := map[string][]map[string]any{
			"Account": {{"Name": "Example 1", "Website": "example1.com", "Industry": "Software", "NumberOfEmployees": 120},
				{"Name": "Example 2", "Website": "example2.com", "Industry": "Retail", "NumberOfEmployees": 45}},
			"Contact": {{"FirstName": "Ada", "LastName": "Sample", "Email": "ada@example1.com", "Title": "CTO"},
				{"FirstName": "Ben", "LastName": "Sample", "Email": "ben@example2.com", "Title": "Buyer"}},
			"Lead": {{"FirstName": "Cleo", "LastName": "Prospect", "Company": "Example 3", "Email": "cleo@example3.com", "Status": "Open - Not Contacted"},
				{"FirstName": "Dev", "LastName": "Prospect", "Company": "Example 4", "Email": "dev@example4.com", "Status": "Working - Contacted"},
				{"FirstName": "Eli", "LastName": "Prospect", "Company": "Example 5", "Email": "eli@example5.com", "Status": "Open - Not Contacted"}},
		}
		for object, recs := range seed {
			if _, err := sf.SeedRecords(acct, object, recs); err != nil {
				return fmt.Errorf("seed demo Salesforce %s: %w", object, err)
			}
		}
	}
	if at, ok := fakes["airtable"].Handler.(*fakeairtable.Fake); ok {
		acct := at.Kit().DefaultAccount()
		recs := []map[string]any{
			{"Name": "Fay Sample", "Email": "fay@example1.com", "Company": "Example 1", "Segment": "Enterprise"},
			{"Name": "Gus Sample", "Email": "gus@example2.com", "Company": "Example 2", "Segment": "SMB"},
			{"Name": "Hal Sample", "Email": "hal@example3.com", "Company": "Example 3", "Segment": "Mid-market"},
		}
		if _, err := at.SeedRecords(acct, fakeairtable.BaseID(acct, 1), "Contacts", recs); err != nil {
			return fmt.Errorf("seed demo Airtable contacts: %w", err)
		}
	}
	return nil
}
