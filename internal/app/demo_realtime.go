package app

import (
	fakehubspot "patchbay/internal/fakes/hubspot"
)

// WireDemoWebhooks points the HubSpot fake's app webhooks at this Patchbay,
// as an app's developer settings would for real HubSpot: every portal's
// record changes are posted, signed, to base + /webhooks/hubspot. (Shopify,
// Mailchimp and Airtable need nothing here: Patchbay subscribes through
// their APIs when a realtime sync is created.)
func WireDemoWebhooks(fakes map[string]Fake, base string) {
	if hs, ok := fakes["hubspot"].Handler.(*fakehubspot.Fake); ok {
		hs.SetWebhooks(base+"/webhooks/hubspot", nil)
	}
}
