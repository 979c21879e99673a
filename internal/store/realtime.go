package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Subscription states.
const (
	SubscriptionOn       = "on"       // the provider notifies Patchbay
	SubscriptionDegraded = "degraded" // no notifications: the syncs poll; Reason says why
)

// RealtimeSubscription is a change subscription Patchbay holds at a provider
// for one object of a connection.
type RealtimeSubscription struct {
	ID           string
	ConnectionID string
	Object       string
	ExternalID   string // the provider's id of it; "" while not created
	TokenHash    string // sha256 of the token in its callback URL
	Secret       []byte // sealed provider secret; nil when there is none
	Cursor       string
	Status       string
	Reason       string
	ExpiresAt    time.Time
	CreatedAt    time.Time
	CheckedAt    time.Time
	LastDelivery time.Time
	Deliveries   int64
	Duplicates   int64
	Refused      int64
}

const subColumns = `id, connection_id, object, external_id, token_hash, secret, cursor, status, reason, expires_at, created_at,
	checked_at, last_delivery_at, deliveries, duplicates, refused`

func scanSub(sc interface{ Scan(...any) error }) (*RealtimeSubscription, error) {
	var r RealtimeSubscription
	var exp, chk, last sql.NullTime
	if err := sc.Scan(&r.ID, &r.ConnectionID, &r.Object, &r.ExternalID, &r.TokenHash, &r.Secret, &r.Cursor, &r.Status, &r.Reason,
		&exp, &r.CreatedAt, &chk, &last, &r.Deliveries, &r.Duplicates, &r.Refused); err != nil {
		return nil, err
	}
	r.ExpiresAt, r.CheckedAt, r.LastDelivery = timeOf(exp), timeOf(chk), timeOf(last)
	return &r, nil
}

// SaveSubscription inserts a subscription or replaces the one with its id.
func (s *Store) SaveSubscription(ctx context.Context, r *RealtimeSubscription) error {
	if r.ID == "" {
		r.ID = NewID("rts")
	}
	if r.CreatedAt.IsZero() {
		r.CreatedAt = time.Now().UTC()
	}
	_, err := s.exec(ctx, s.write, `INSERT INTO realtime_subscriptions (`+subColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT (id) DO UPDATE SET external_id=excluded.external_id, token_hash=excluded.token_hash, secret=excluded.secret,
		cursor=excluded.cursor, status=excluded.status, reason=excluded.reason, expires_at=excluded.expires_at, checked_at=excluded.checked_at`,
		r.ID, r.ConnectionID, r.Object, r.ExternalID, r.TokenHash, r.Secret, r.Cursor, r.Status, r.Reason, nullTime(r.ExpiresAt),
		r.CreatedAt.UTC(), nullTime(r.CheckedAt), nullTime(r.LastDelivery), r.Deliveries, r.Duplicates, r.Refused)
	if err != nil {
		return fmt.Errorf("save subscription of %s/%s: %w", r.ConnectionID, r.Object, err)
	}
	return nil
}

// Subscription returns one subscription by id.
func (s *Store) Subscription(ctx context.Context, id string) (*RealtimeSubscription, error) {
	r, err := scanSub(s.queryRow(ctx, s.read, `SELECT `+subColumns+` FROM realtime_subscriptions WHERE id=?`, id))
	if err != nil {
		return nil, notFound(err, "subscription")
	}
	return r, nil
}

// ConnectionSubscriptions lists a connection's subscriptions by object.
func (s *Store) ConnectionSubscriptions(ctx context.Context, connID string) ([]*RealtimeSubscription, error) {
	return s.listSubs(ctx, `connection_id=? ORDER BY object`, connID)
}

// SubscriptionsDue lists the subscriptions to look at again: those last
// checked before checkBefore (or never), the degraded ones last tried before
// retryBefore, and those no realtime sync needs any more.
func (s *Store) SubscriptionsDue(ctx context.Context, checkBefore, retryBefore time.Time) ([]*RealtimeSubscription, error) {
	return s.listSubs(ctx, `checked_at IS NULL OR checked_at<? OR (status<>? AND checked_at<?)
		OR NOT EXISTS (SELECT 1 FROM syncs y WHERE y.connection_id=realtime_subscriptions.connection_id
			AND y.object=realtime_subscriptions.object AND NOT y.paused AND y.schedule='realtime' AND y.direction='inbound')
		ORDER BY id`, checkBefore.UTC(), SubscriptionOn, retryBefore.UTC())
}

func (s *Store) listSubs(ctx context.Context, where string, args ...any) ([]*RealtimeSubscription, error) {
	rows, err := s.query(ctx, s.read, `SELECT `+subColumns+` FROM realtime_subscriptions WHERE `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("list subscriptions: %w", err)
	}
	defer rows.Close()
	var out []*RealtimeSubscription
	for rows.Next() {
		r, err := scanSub(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// DeleteSubscription removes a subscription (and its delivery ids).
func (s *Store) DeleteSubscription(ctx context.Context, id string) error {
	if _, err := s.exec(ctx, s.write, `DELETE FROM realtime_deliveries WHERE subscription_id=?`, id); err != nil {
		return fmt.Errorf("delete subscription %s: %w", id, err)
	}
	if _, err := s.exec(ctx, s.write, `DELETE FROM realtime_subscriptions WHERE id=?`, id); err != nil {
		return fmt.Errorf("delete subscription %s: %w", id, err)
	}
	return nil
}

// Delivery outcomes counted on a subscription.
const (
	DeliveryAccepted  = "accepted"
	DeliveryDuplicate = "duplicate"
	DeliveryRefused   = "refused"
)

// RecordDelivery notes a delivery: a refused one is counted; an accepted one
// with a delivery id seen before is a duplicate (its outcome is returned as
// DeliveryDuplicate); otherwise the id is kept and the delivery counted.
func (s *Store) RecordDelivery(ctx context.Context, subID, deliveryID, outcome string, at time.Time) (string, error) {
	if outcome == DeliveryAccepted && deliveryID != "" {
		res, err := s.exec(ctx, s.write, `INSERT INTO realtime_deliveries (subscription_id, delivery_id, received_at) VALUES (?,?,?)
			ON CONFLICT DO NOTHING`, subID, deliveryID, at.UTC())
		if err != nil {
			return "", fmt.Errorf("record delivery: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			outcome = DeliveryDuplicate
		}
	}
	col := map[string]string{DeliveryAccepted: "deliveries", DeliveryDuplicate: "duplicates", DeliveryRefused: "refused"}[outcome]
	if col == "" {
		return "", fmt.Errorf("record delivery: unknown outcome %q", outcome)
	}
	set := col + `=` + col + `+1`
	args := []any{subID}
	if outcome == DeliveryAccepted {
		set += `, last_delivery_at=?`
		args = []any{at.UTC(), subID}
	}
	if _, err := s.exec(ctx, s.write, `UPDATE realtime_subscriptions SET `+set+` WHERE id=?`, args...); err != nil {
		return "", fmt.Errorf("record delivery: %w", err)
	}
	return outcome, nil
}

// PruneDeliveries forgets delivery ids received before before.
func (s *Store) PruneDeliveries(ctx context.Context, before time.Time) error {
	if _, err := s.exec(ctx, s.write, `DELETE FROM realtime_deliveries WHERE received_at<?`, before.UTC()); err != nil {
		return fmt.Errorf("prune deliveries: %w", err)
	}
	return nil
}

// SetSubscriptionCursor stores the payload cursor after a fetch.
func (s *Store) SetSubscriptionCursor(ctx context.Context, id, cursor string) error {
	if _, err := s.exec(ctx, s.write, `UPDATE realtime_subscriptions SET cursor=? WHERE id=?`, cursor, id); err != nil {
		return fmt.Errorf("set cursor of subscription %s: %w", id, err)
	}
	return nil
}

// ConnectionRealtimeSyncs lists the unpaused inbound realtime syncs of a
// connection: the objects it needs subscriptions for.
func (s *Store) ConnectionRealtimeSyncs(ctx context.Context, connID string) ([]*Sync, error) {
	return s.listSyncs(ctx, `NOT paused AND schedule='realtime' AND direction='inbound' AND connection_id=?`, connID)
}

// UnsubscribedRealtime lists the connections (id → provider) with an inbound
// realtime sync whose object has no subscription row: the sweep makes them
// for the providers that offer subscriptions.
func (s *Store) UnsubscribedRealtime(ctx context.Context) (map[string]string, error) {
	rows, err := s.query(ctx, s.read, `SELECT DISTINCT c.id, c.provider FROM syncs y JOIN connections c ON c.id=y.connection_id
		WHERE NOT y.paused AND y.schedule='realtime' AND y.direction='inbound' AND NOT EXISTS
		(SELECT 1 FROM realtime_subscriptions r WHERE r.connection_id=y.connection_id AND r.object=y.object)`)
	if err != nil {
		return nil, fmt.Errorf("list unsubscribed realtime syncs: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, provider string
		if err := rows.Scan(&id, &provider); err != nil {
			return nil, err
		}
		out[id] = provider
	}
	return out, rows.Err()
}
