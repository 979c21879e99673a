package connection

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"patchbay/internal/connector"
	"patchbay/internal/store"
)

// ErrWebhookSignature refuses a provider webhook whose signature does not verify.
var ErrWebhookSignature = errors.New("the webhook's signature does not verify with this server's client secret")

func (s *Service) connector(id string) connector.Connector {
	c, _ := s.cfg.Connectors.Get(id)
	return c
}

// ProviderWebhook handles a provider's signed lifecycle webhook (Shopify's
// app/uninstalled): the provider's connector checks the signature and reads
// the event, and an event that ends the grant turns every live connection to
// that account red with authorization_revoked. It returns how many
// connections changed.
func (s *Service) ProviderWebhook(ctx context.Context, provider string, header map[string][]string, body []byte) (int, error) {
	p, ok := s.cfg.Catalog.Get(provider)
	if !ok {
		return 0, invalid("provider", "unknown provider %q", provider)
	}
	wv, ok := s.connector(p.ID).(connector.WebhookVerifier)
	if !ok {
		return 0, invalid("provider", "%s sends no webhooks to Patchbay", p.Name)
	}
	secret := s.cfg.Clients[p.ID].Secret
	if secret == "" {
		return 0, invalid("provider", "%s is not configured on this server: set PATCHBAY_%s_CLIENT_SECRET", p.Name, strings.ToUpper(p.ID))
	}
	ev, err := wv.VerifyWebhook(header, body, secret)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrWebhookSignature, err)
	}
	if !ev.Revoked || ev.Account == "" {
		return 0, nil
	}
	conns, err := s.cfg.Store.ConnectionsByAccount(ctx, p.ID, ev.Account)
	if err != nil {
		return 0, fmt.Errorf("webhook %s: %w", ev.Topic, err)
	}
	changed := 0
	for _, c := range conns {
		if c.Status == StatusDisconnected || c.Status == StatusNotConnected {
			continue
		}
		err := s.cfg.Store.InTx(ctx, func(tx *store.Tx) error {
			cur, err := tx.GetConnection(ctx, c.ID)
			if err != nil {
				return err
			}
			prev := cur.Status + "/" + cur.Reason
			cur.Status, cur.Reason = StatusError, ReasonAuthorizationRevoked
			cur.ReasonDetail = fmt.Sprintf("%s reported %s for %s", p.Name, ev.Topic, ev.Account)
			cur.LastError = cur.ReasonDetail
			if err := tx.UpdateConnection(ctx, cur); err != nil {
				return err
			}
			return tx.AddEvent(ctx, &store.Event{WorkspaceID: cur.WorkspaceID, ConnectionID: cur.ID, Kind: "connection.status_changed",
				Message: fmt.Sprintf("%s: %s → %s/%s (%s webhook)", p.Name, prev, cur.Status, cur.Reason, ev.Topic),
				Data:    map[string]any{"from": prev, "to": cur.Status + "/" + cur.Reason, "topic": ev.Topic}})
		})
		if err != nil {
			return changed, fmt.Errorf("webhook %s: %w", ev.Topic, err)
		}
		changed++
	}
	return changed, nil
}
