package app

import (
	"context"
	"fmt"

	fakemailchimp "patchbay/internal/fakes/mailchimp"
	fakeshopify "patchbay/internal/fakes/shopify"
)

// DemoMailchimpKey is the API key the demo's Mailchimp fake accepts (the
// "mailchimp_key" entry); it ends with its data centre like a real key.
const DemoMailchimpKey = "0123456789abcdef0123456789abcdef-us6"

// demoCommerceFakes are the Shopify and Mailchimp fakes of the demo. One
// Mailchimp fake serves both Mailchimp entries.
func demoCommerceFakes() map[string]Fake {
	mc := fakemailchimp.New(fakemailchimp.Options{ClientID: demoClientID, ClientSecret: demoClientSecret})
	return map[string]Fake{
		"shopify": {Handler: fakeshopify.New(fakeshopify.Options{ClientID: demoClientID, ClientSecret: demoClientSecret,
			WebhookPath: "/webhooks/providers/shopify"}), ClientID: demoClientID, ClientSecret: demoClientSecret},
		"mailchimp":     {Handler: mc, ClientID: demoClientID, ClientSecret: demoClientSecret},
		"mailchimp_key": {Handler: mc},
	}
}

// seedCommerce puts sample customers, orders, products and audience members
// into the Shopify and Mailchimp fakes.
func seedCommerce(ctx context.Context, fakes map[string]Fake) error {
	if sh, ok := fakes["shopify"].Handler.(*fakeshopify.Fake); ok {
		shop := sh.Kit().DefaultAccount()
		var customers, orders, products []map[string]any
		for i := 1; i <= 25; i++ {
			customers = append(customers, map[string]any{"email": fmt.Sprintf("buyer%02d@example%d.com", i, i%5), "firstName": fmt.Sprintf("Buyer%02d", i),
				"lastName": "Sample", "tags": []string{"newsletter", "vip", "wholesale"}[i%3], "numberOfOrders": fmt.Sprint(i % 4)})
		}
		for i := 1; i <= 12; i++ {
			orders = append(orders, map[string]any{"name": fmt.Sprintf("#%d", 1000+i), "email": fmt.Sprintf("buyer%02d@example%d.com", i, i%5),
				"totalPrice": fmt.Sprintf("%d.90", 10+i*7), "currencyCode": "USD"})
		}
		for i, title := range []string{"Blue Mug", "Red Mug", "Tea Towel", "Apron", "Espresso Cups", "Coffee Beans", "Grinder", "Kettle"} {
			products = append(products, map[string]any{"title": title, "vendor": "Demo Goods", "productType": "Kitchen", "totalInventory": fmt.Sprint(5 + i*3)})
		}
		for object, recs := range map[string][]map[string]any{"customers": customers, "orders": orders, "products": products} {
			sh.SeedRecords(shop, object, recs)
		}
	}
	if mc, ok := fakes["mailchimp"].Handler.(*fakemailchimp.Fake); ok {
		acct := mc.Kit().DefaultAccount()
		mc.AddAPIKey(acct, DemoMailchimpKey)
		var members []map[string]any
		for i := 1; i <= 30; i++ {
			members = append(members, map[string]any{"email_address": fmt.Sprintf("reader%02d@example%d.com", i, i%6), "status": "subscribed",
				"FNAME": fmt.Sprintf("Reader%02d", i), "LNAME": "Sample", "tags": []string{"newsletter", "customer"}[i%2]})
		}
		mc.SeedMembers(acct, mc.Audiences(acct)[0].ID, members)
	}
	return ctx.Err()
}
