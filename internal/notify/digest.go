package notify

import (
	"context"
	"fmt"
	"strings"
	"time"

	"patchbay/internal/connection"
	"patchbay/internal/store"
)

// DigestEntry is one connection in the monthly digest.
type DigestEntry struct {
	ConnectionID    string     `json:"connection_id"`
	Provider        string     `json:"provider"`
	Account         string     `json:"account"`
	Status          string     `json:"status"`
	Reason          string     `json:"reason"`
	Health          string     `json:"health"`
	LastActivityAt  *time.Time `json:"last_activity_at"`
	ExpiresAt       *time.Time `json:"expires_at"`
	NotUsedRecently bool       `json:"not_used_recently"`
	ExpiringSoon    bool       `json:"expiring_soon"`
}

// Digest builds the monthly digest of a workspace: every connection's state,
// the unused ones and the expiring ones.
func (n *Notifier) Digest(ctx context.Context, workspaceID string, now time.Time) (*Message, error) {
	conns, err := n.cfg.Store.ListConnections(ctx, workspaceID)
	if err != nil {
		return nil, err
	}
	period := now.UTC().Format("January 2006")
	var entries []DigestEntry
	var lines, unused, expiring []string
	count := map[string]int{}
	for _, c := range conns {
		name := c.Provider
		if p, ok := n.cfg.Catalog.Get(c.Provider); ok {
			name = p.Name
		}
		e := DigestEntry{ConnectionID: c.ID, Provider: c.Provider, Account: orText(c.AccountName, c.AccountID), Status: c.Status, Reason: c.Reason,
			Health: connection.Health(c.Status, c.Reason), NotUsedRecently: connection.NotUsedRecently(c, now),
			ExpiringSoon: c.Reason == connection.ReasonExpiringSoon}
		if !c.LastActivityAt.IsZero() {
			e.LastActivityAt = &c.LastActivityAt
		}
		if !c.ExpiresAt.IsZero() {
			e.ExpiresAt = &c.ExpiresAt
		}
		entries = append(entries, e)
		count[e.Health]++
		label := fmt.Sprintf("%s %s", name, e.Account)
		state := c.Status
		if c.Reason != "" {
			state += " (" + strings.ReplaceAll(c.Reason, "_", " ") + ")"
		}
		lines = append(lines, fmt.Sprintf("- [%s] %s: %s", e.Health, label, state))
		if e.NotUsedRecently {
			unused = append(unused, "- "+label)
		}
		if e.ExpiringSoon {
			expiring = append(expiring, "- "+label+": "+c.ReasonDetail)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Patchbay health digest, %s: %d connections — %d green, %d yellow, %d red, %d grey.\n\n",
		period, len(conns), count[connection.HealthGreen], count[connection.HealthYellow], count[connection.HealthRed], count[connection.HealthGrey])
	section := func(title string, items []string, none string) {
		b.WriteString(title + "\n")
		if len(items) == 0 {
			b.WriteString(none + "\n\n")
			return
		}
		b.WriteString(strings.Join(items, "\n") + "\n\n")
	}
	section("Every connection:", lines, "No connections yet.")
	section("Not used in 30 days (consider disconnecting):", unused, "None.")
	section("Expiring soon (reconnect before they stop):", expiring, "None.")
	return &Message{Kind: KindDigest, WorkspaceID: workspaceID, Subject: "Monthly health digest, " + period,
		Text: strings.TrimSpace(b.String()), OccurredAt: now.UTC(), URL: n.link("/integrations"),
		Data: map[string]any{"period": now.UTC().Format("2006-01"), "connections": entries, "unused": len(unused), "expiring": len(expiring)}}, nil
}

// SendDigests sends each workspace's digest for the month of now, once per
// month: the first call in a month sends, later ones (any worker) do not.
func (n *Notifier) SendDigests(ctx context.Context, now time.Time) error {
	wss, err := n.cfg.Store.Workspaces(ctx)
	if err != nil {
		return err
	}
	period := now.UTC().Format("2006-01")
	for _, ws := range wss {
		var opened bool
		err := n.cfg.Store.InTx(ctx, func(tx *store.Tx) error {
			var err error
			opened, err = tx.OpenEpisode(ctx, &store.Episode{WorkspaceID: ws.ID, Kind: episodeDigest, Subject: period, OpenedAt: now})
			return err
		})
		if err != nil {
			return err
		}
		if !opened {
			continue
		}
		m, err := n.Digest(ctx, ws.ID, now)
		if err != nil {
			return err
		}
		if err := n.Send(ctx, m); err != nil {
			return err
		}
	}
	return nil
}
