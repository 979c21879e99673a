package connection

import (
	"context"
	"fmt"
	"time"

	"patchbay/internal/store"
)

// LookupFailed is told by enrichment that a lookup on a connection met
// failure. When the failure says something about the connection (a refused
// key, a revoked grant, an outage), the connection takes that status, once:
// a second report of the same status changes nothing and logs nothing. It
// returns the status and reason the failure maps to, and ok false when the
// failure is about the request rather than the connection.
//
// asked is when the lookup started: a failure seen with credentials that a
// reconnect replaced since then says nothing about the connection now, so
// it changes nothing and LookupFailed answers StatusConnected (ask again).
func (s *Service) LookupFailed(ctx context.Context, connID, source string, failure error, asked time.Time) (status, reason string, ok bool, err error) {
	c, err := s.cfg.Store.ConnectionByID(ctx, connID)
	if err != nil {
		return "", "", false, err
	}
	p, found := s.cfg.Catalog.Get(c.Provider)
	if !found {
		return "", "", false, fmt.Errorf("lookup failed: provider %q left the catalog", c.Provider)
	}
	status, reason, ok = Classify(failure, p.Auth)
	if !ok || status == StatusConnected {
		return status, reason, ok, nil
	}
	err = s.cfg.Store.InTx(ctx, func(tx *store.Tx) error {
		cur, err := tx.GetConnection(ctx, connID)
		if err != nil {
			return err
		}
		if cur.Status == StatusConnected && cur.ConnectedAt.After(asked) {
			status, reason, ok = StatusConnected, "", false
			return nil
		}
		if cur.Status == status && cur.Reason == reason {
			return nil
		}
		prev := cur.Status + "/" + cur.Reason
		cur.Status, cur.Reason, cur.ReasonDetail, cur.LastError = status, reason, detail(reason, failure), failure.Error()
		if err := tx.UpdateConnection(ctx, cur); err != nil {
			return err
		}
		return tx.AddEvent(ctx, &store.Event{WorkspaceID: cur.WorkspaceID, ConnectionID: cur.ID, Kind: "connection.status_changed",
			Message: fmt.Sprintf("%s: %s → %s/%s (seen by %s)", p.Name, prev, status, reason, source),
			Data:    map[string]any{"from": prev, "to": status + "/" + reason, "source": source}})
	})
	return status, reason, ok, err
}
