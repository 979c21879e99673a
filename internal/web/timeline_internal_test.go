package web

import (
	"testing"
	"time"
)

func TestHealthTimelineBands(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	evs := []timelineEvent{ // newest first, as the API lists them
		{Kind: "connection.reconnected", CreatedAt: now.Add(-5 * day)},
		{Kind: "connection.refresh_failed", Data: map[string]any{"to": "error/authorization_revoked"}, CreatedAt: now.Add(-10 * day)},
		{Kind: "sync.failed", CreatedAt: now.Add(-12 * day)},
		{Kind: "connection.status_changed", Data: map[string]any{"to": "connected/expiring_soon"}, CreatedAt: now.Add(-20 * day)},
		{Kind: "connection.connected", CreatedAt: now.Add(-40 * day)}, // before the window: holds at its start
	}
	tl := buildTimeline(evs, now)
	want := []struct {
		health string
		x, w   float64
	}{
		{"green", 0, 100}, {"yellow", 100, 100}, {"red", 200, 50}, {"green", 250, 50},
	}
	if len(tl.Bands) != len(want) {
		t.Fatalf("bands %+v", tl.Bands)
	}
	for i, w := range want {
		b := tl.Bands[i]
		if b.Health != w.health || b.X != w.x || b.W != w.w {
			t.Errorf("band %d: %+v, want %+v", i, b, w)
		}
	}
	if got := tl.Bands[2].Title; got != "error: authorization revoked from Nov 22 00:00 to Nov 27 00:00 UTC" {
		t.Errorf("red band's title %q", got)
	}
}
