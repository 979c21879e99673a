package notify

import (
	"context"
	"fmt"

	"patchbay/internal/store"
)

// KindTest is the kind of a test message, sent to one route on request.
const KindTest = "test"

// SendTest sends a test message over one route of a workspace now, and
// answers whether it went out (for the "send a test" button).
func (n *Notifier) SendTest(ctx context.Context, workspaceID, routeID string) error {
	routes, err := n.cfg.Store.ListRoutes(ctx, workspaceID)
	if err != nil {
		return err
	}
	for _, r := range routes {
		if r.ID != routeID {
			continue
		}
		m := &Message{ID: store.NewID("ntf"), Kind: KindTest, WorkspaceID: workspaceID, OccurredAt: n.cfg.Now().UTC(),
			Subject: "Test notification", URL: n.link("/notifications"),
			Text: "This is a test from Patchbay: notifications of this route reach you here."}
		if _, err := n.transmit(ctx, delivery{msg: m, route: r}); err != nil {
			return fmt.Errorf("send the test to %s: %w", r.Target, err)
		}
		return nil
	}
	return fmt.Errorf("notification route %s: %w", routeID, store.ErrNotFound)
}
