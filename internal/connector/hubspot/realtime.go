package hubspot

import (
	"time"

	"patchbay/internal/connector"
)

// Realtime: HubSpot's webhooks belong to the app, not to a connection: the
// target URL and the subscribed events are set once in the app's developer
// settings, and HubSpot posts every installed portal's changes there, signed
// with the app's client secret (v3). Patchbay polls every 5 minutes besides,
// to catch what a missed webhook would lose.
func (c *Connector) Realtime() connector.Realtime {
	return connector.Realtime{Method: connector.RealtimeAppWebhook,
		Description:   "HubSpot posts a webhook to Patchbay when a record changes; Patchbay then reads the changes. It also checks every 5 minutes in case a webhook was lost.",
		ExpectedDelay: 5 * time.Second, PollInterval: 5 * time.Minute}
}
