package salesforce

import (
	"time"

	"patchbay/internal/connector"
)

// PollInterval is how often a realtime Salesforce sync asks for records
// whose SystemModstamp moved: once a minute is 1,440 queries a day, a small
// share of an org's daily API requests (15,000 and up).
const PollInterval = time.Minute

// Realtime: Patchbay does not use Change Data Capture (it needs the Pub/Sub
// API's gRPC stream or the Streaming API's CometD, and an org edition that
// includes it); "realtime" is an incremental query by SystemModstamp every
// minute, and the dashboard says so.
func (c *Connector) Realtime() connector.Realtime {
	return connector.Realtime{Method: connector.RealtimePoll,
		Description:   "Salesforce is checked every minute for records changed since the last check (by SystemModstamp); Change Data Capture is not used.",
		ExpectedDelay: time.Minute, PollInterval: PollInterval}
}
