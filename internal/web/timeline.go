package web

import (
	"context"
	"net/url"
	"sort"
	"strings"
	"time"

	"patchbay/internal/connection"
)

// The health timeline of a connection: its colour over the last 30 days,
// from the status changes in its audit log, as bands of a server-drawn SVG.

const timelineDays = 30

type timelineEvent struct {
	Kind      string         `json:"kind"`
	Message   string         `json:"message"`
	Data      map[string]any `json:"data"`
	CreatedAt time.Time      `json:"created_at"`
}

// band is one stretch of a single health colour.
type band struct {
	X, W   float64 // in a 0–300 viewBox
	Health string
	Title  string
}

// timeline is the picture's data.
type timeline struct {
	Bands []band
	From  time.Time
}

// healthAfter is the health an event leaves the connection in; ok false for
// events that do not change it.
func healthAfter(e timelineEvent) (health, why string, ok bool) {
	switch e.Kind {
	case "connection.connected", "connection.reconnected":
		return connection.HealthGreen, "connected", true
	case "connection.disconnected":
		return connection.HealthGrey, "disconnected", true
	}
	// Status changes (a probe, a failed refresh, a sync's failure) say where they went: "status/reason".
	if to, _ := e.Data["to"].(string); strings.Contains(to, "/") {
		status, reason, _ := strings.Cut(to, "/")
		why = strings.ReplaceAll(status, "_", " ")
		if reason != "" {
			why += ": " + strings.ReplaceAll(reason, "_", " ")
		}
		return connection.Health(status, reason), why, status != ""
	}
	return "", "", false
}

// buildTimeline turns events (any order) into bands from now-30 days to now.
func buildTimeline(evs []timelineEvent, now time.Time) *timeline {
	from := now.Add(-timelineDays * 24 * time.Hour)
	sort.Slice(evs, func(i, j int) bool { return evs[i].CreatedAt.Before(evs[j].CreatedAt) })
	type change struct {
		at          time.Time
		health, why string
	}
	var changes []change
	for _, e := range evs {
		if h, why, ok := healthAfter(e); ok {
			at := e.CreatedAt
			if at.Before(from) {
				at = from // what held when the window opens
				if len(changes) > 0 && !changes[len(changes)-1].at.After(from) {
					changes = changes[:len(changes)-1]
				}
			}
			changes = append(changes, change{at, h, why})
		}
	}
	span := now.Sub(from).Seconds()
	t := &timeline{From: from}
	for i, c := range changes {
		end := now
		if i+1 < len(changes) {
			end = changes[i+1].at
		}
		x := c.at.Sub(from).Seconds() / span * 300
		w := max(end.Sub(c.at).Seconds()/span*300, 0.5) // a short episode stays visible
		t.Bands = append(t.Bands, band{X: x, W: w, Health: c.health,
			Title: c.why + " from " + c.at.UTC().Format("Jan 2 15:04") + " to " + end.UTC().Format("Jan 2 15:04 UTC")})
	}
	return t
}

func (h *Handler) loadTimeline(ctx context.Context, s *session, connID string) (*timeline, error) {
	var out struct {
		Events []timelineEvent `json:"events"`
	}
	if err := h.call(ctx, s, "GET", "/events?connection_id="+url.QueryEscape(connID), nil, &out); err != nil {
		return nil, err
	}
	return buildTimeline(out.Events, h.cfg.Now()), nil
}
