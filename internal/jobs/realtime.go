package jobs

import (
	"time"

	"github.com/riverqueue/river"
)

// NotifyDebounce is how long a Notify job waits before it asks for a run:
// every notification about the sync in that time joins the same job (the
// uniqueness rule holds while it is scheduled), so a burst of a thousand
// notifications costs one run, not a thousand.
const NotifyDebounce = time.Second

// Notify is a provider's change notification for a realtime sync. It only
// asks for an incremental run (Handlers.Notified): the run re-reads the
// provider, so a notification is never trusted for data, and a missed one
// is caught by the sync's polling.
type Notify struct {
	SyncID string `json:"sync_id" river:"unique"`
}

// Kind implements river.JobArgs.
func (Notify) Kind() string { return "realtime_notify" }

// InsertOpts makes the job unique per sync while active and schedules it
// NotifyDebounce ahead.
func (Notify) InsertOpts() river.InsertOpts {
	o := insertOpts(QueueUpkeep)
	o.ScheduledAt = time.Now().Add(NotifyDebounce)
	return o
}
func (a Notify) uniqueKey() string  { return a.SyncID }
func (Notify) queue() string        { return QueueUpkeep }
func (Notify) delay() time.Duration { return NotifyDebounce }

// Subscribe reconciles a connection's change subscriptions at its provider
// with its realtime syncs: creates the missing, deletes the unused, checks
// and renews the rest (Handlers.Subscribe).
type Subscribe struct {
	ConnectionID string `json:"connection_id" river:"unique"`
}

// Kind implements river.JobArgs.
func (Subscribe) Kind() string { return "realtime_subscribe" }

// InsertOpts makes the job unique per connection while active.
func (Subscribe) InsertOpts() river.InsertOpts { return insertOpts(QueueUpkeep) }
func (a Subscribe) uniqueKey() string          { return a.ConnectionID }
func (Subscribe) queue() string                { return QueueUpkeep }

// delayed is implemented by jobs that run a while after they are enqueued
// (River: InsertOpts.ScheduledAt; Local waits before the first attempt).
type delayed interface {
	delay() time.Duration
}
