package connection

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/url"
	"time"

	"patchbay/internal/catalog"
	"patchbay/internal/connector"
	"patchbay/internal/store"
)

// Realtime subscriptions: the connection service creates, checks, renews and
// deletes the change subscriptions a connection's realtime syncs need at its
// provider, and verifies what the provider posts to them.
const (
	// RealtimePath is where providers post notifications:
	// RealtimePath + "<subscription id>/<token>" under Patchbay's public URL.
	RealtimePath = "/webhooks/realtime/"
	// RenewAhead: a subscription expiring within it is renewed.
	RenewAhead = 24 * time.Hour
	// CheckInterval is how often each subscription is checked at the provider
	// (it may have been disabled or deleted there).
	CheckInterval = 15 * time.Minute
)

// ErrUnknownSubscription says a notification names no subscription Patchbay holds.
var ErrUnknownSubscription = errors.New("no such subscription")

// publicBase is Patchbay's public URL: the one its OAuth callback is under.
func (s *Service) publicBase() string {
	u, err := url.Parse(s.cfg.RedirectURL)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// ReconcileRealtime makes a connection's subscriptions match its realtime
// syncs: it subscribes objects that need it, unsubscribes those no sync needs,
// and checks (and renews) the others. A subscription it cannot make or keep
// is stored degraded with the reason; the syncs poll meanwhile.
func (s *Service) ReconcileRealtime(ctx context.Context, connID string) error {
	c, err := s.cfg.Store.ConnectionByID(ctx, connID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	have, err := s.cfg.Store.ConnectionSubscriptions(ctx, c.ID)
	if err != nil {
		return err
	}
	sub, ok := s.connector(c.Provider).(connector.Subscriber)
	if !ok {
		return nil
	}
	syncs, err := s.cfg.Store.ConnectionRealtimeSyncs(ctx, c.ID)
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for _, y := range syncs {
		want[y.Object] = true
	}
	if c.Status != StatusConnected {
		for _, r := range have {
			s.degrade(ctx, r, "the connection is not connected")
		}
		return nil
	}
	sess, _, err := s.Session(ctx, c)
	if err != nil {
		for _, r := range have {
			s.degrade(ctx, r, "Patchbay cannot reach the provider: "+err.Error())
		}
		return fmt.Errorf("realtime %s: %w", c.ID, err)
	}
	now := s.cfg.Now()
	var errs []error
	for _, r := range have {
		if !want[r.Object] {
			errs = append(errs, s.unsubscribe(ctx, sub, sess, r))
			continue
		}
		delete(want, r.Object)
		if r.ExternalID == "" {
			errs = append(errs, s.subscribe(ctx, sub, sess, c, r, r.Reason))
			continue
		}
		cur, err := s.subscription(r)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		checked, err := sub.Check(ctx, sess, cur, now.Add(RenewAhead))
		switch {
		case errors.Is(err, connector.ErrSubscriptionGone):
			// Disabled or deleted at the provider: make a new one.
			errs = append(errs, s.subscribe(ctx, sub, sess, c, r, "the provider had dropped the subscription; Patchbay made a new one"))
		case err != nil:
			s.degrade(ctx, r, "Patchbay could not check the subscription at the provider: "+err.Error())
		default:
			r.ExpiresAt, r.Cursor, r.CheckedAt = checked.ExpiresAt, checked.Cursor, now
			r.Status, r.Reason = store.SubscriptionOn, ""
			errs = append(errs, s.cfg.Store.SaveSubscription(ctx, r))
		}
	}
	for object := range want {
		r := &store.RealtimeSubscription{ConnectionID: c.ID, Object: object}
		errs = append(errs, s.subscribe(ctx, sub, sess, c, r, ""))
	}
	return errors.Join(errs...)
}

// subscribe creates r at the provider under a fresh URL, replacing what r
// held there before.
func (s *Service) subscribe(ctx context.Context, sub connector.Subscriber, sess connector.Session, c *store.Connection, r *store.RealtimeSubscription, note string) error {
	if r.ID == "" {
		r.ID = store.NewID("rts")
	}
	if r.ExternalID != "" {
		if old, err := s.subscription(r); err == nil {
			_ = sub.Unsubscribe(ctx, sess, old) // it may be gone already
		}
	}
	base := s.publicBase()
	if base == "" {
		s.degrade(ctx, r, "Patchbay's public URL is unknown (set PATCHBAY_BASE_URL), so the provider cannot reach it")
		return nil
	}
	token := randomToken()
	r.TokenHash = hashToken(token)
	// Saved first: a provider may call the URL before it answers (Mailchimp).
	r.ExternalID, r.Secret = "", nil
	r.Status, r.Reason, r.CheckedAt = store.SubscriptionDegraded, "subscribing at the provider", s.cfg.Now()
	if err := s.cfg.Store.SaveSubscription(ctx, r); err != nil {
		return err
	}
	got, err := sub.Subscribe(ctx, sess, connector.SubscribeRequest{Object: r.Object, CallbackURL: base + RealtimePath + r.ID + "/" + token})
	now := s.cfg.Now()
	r.CheckedAt = now
	if err != nil {
		r.Status, r.Reason = store.SubscriptionDegraded, "the provider refused the subscription: "+err.Error()
		if serr := s.cfg.Store.SaveSubscription(ctx, r); serr != nil {
			return serr
		}
		s.event(ctx, c, "realtime.degraded", fmt.Sprintf("real time for %s degraded to polling: %s", r.Object, r.Reason))
		return nil
	}
	r.ExternalID, r.ExpiresAt, r.Cursor = got.ID, got.ExpiresAt, got.Cursor
	r.Secret = nil
	if got.Secret != "" {
		if r.Secret, err = s.cfg.Vault.Seal([]byte(got.Secret), []byte(r.ID)); err != nil {
			return fmt.Errorf("seal subscription secret: %w", err)
		}
	}
	r.Status, r.Reason = store.SubscriptionOn, note
	if err := s.cfg.Store.SaveSubscription(ctx, r); err != nil {
		return err
	}
	s.event(ctx, c, "realtime.subscribed", fmt.Sprintf("real time on for %s: subscribed at the provider", r.Object))
	return nil
}

func (s *Service) unsubscribe(ctx context.Context, sub connector.Subscriber, sess connector.Session, r *store.RealtimeSubscription) error {
	if r.ExternalID != "" {
		cur, err := s.subscription(r)
		if err == nil {
			err = sub.Unsubscribe(ctx, sess, cur)
		}
		if err != nil {
			return fmt.Errorf("unsubscribe %s: %w", r.Object, err)
		}
	}
	return s.cfg.Store.DeleteSubscription(ctx, r.ID)
}

// unsubscribeAll removes every subscription of a connection that is being
// disconnected, at the provider while its credentials still work.
func (s *Service) unsubscribeAll(ctx context.Context, p *catalog.Provider, c *store.Connection, creds connector.Credentials) {
	have, err := s.cfg.Store.ConnectionSubscriptions(ctx, c.ID)
	if err != nil || len(have) == 0 {
		return
	}
	sub, ok := s.connector(p.ID).(connector.Subscriber)
	for _, r := range have {
		if ok && r.ExternalID != "" {
			cur, err := s.subscription(r)
			if err == nil {
				err = sub.Unsubscribe(ctx, s.session(p, c, creds, sessionFixed), cur)
			}
			if err != nil {
				s.cfg.Logger.Warn("unsubscribe at provider failed", "connection", c.ID, "object", r.Object, "err", err)
			}
		}
		if err := s.cfg.Store.DeleteSubscription(ctx, r.ID); err != nil {
			s.cfg.Logger.Warn("delete subscription", "connection", c.ID, "err", err)
		}
	}
}

func (s *Service) degrade(ctx context.Context, r *store.RealtimeSubscription, reason string) {
	if r.Status == store.SubscriptionDegraded && r.Reason == reason {
		return
	}
	r.Status, r.Reason, r.CheckedAt = store.SubscriptionDegraded, reason, s.cfg.Now()
	if err := s.cfg.Store.SaveSubscription(ctx, r); err != nil {
		s.cfg.Logger.Warn("save subscription", "subscription", r.ID, "err", err)
	}
}

// subscription is r as the connector sees it, its secret opened.
func (s *Service) subscription(r *store.RealtimeSubscription) (connector.Subscription, error) {
	out := connector.Subscription{ID: r.ExternalID, Object: r.Object, ExpiresAt: r.ExpiresAt, Cursor: r.Cursor}
	if len(r.Secret) > 0 {
		plain, err := s.cfg.Vault.Open(r.Secret, []byte(r.ID))
		if err != nil {
			return out, fmt.Errorf("open subscription secret of %s: %w", r.ID, err)
		}
		out.Secret = string(plain)
	}
	return out, nil
}

// Received is a verified notification.
type Received struct {
	Subscription *store.RealtimeSubscription
	Notification connector.Notification
	// Outcome is store.DeliveryAccepted or store.DeliveryDuplicate.
	Outcome string
}

// ReceiveRealtime verifies a notification posted to a subscription's URL:
// the URL's token, then the provider's signature (or MAC), then that its
// delivery id is new. A refused one is counted and answered with
// connector.ErrNotificationRefused.
func (s *Service) ReceiveRealtime(ctx context.Context, subID, token string, d connector.Delivery) (*Received, error) {
	r, err := s.cfg.Store.Subscription(ctx, subID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrUnknownSubscription
	}
	if err != nil {
		return nil, err
	}
	c, err := s.cfg.Store.ConnectionByID(ctx, r.ConnectionID)
	if err != nil {
		return nil, err
	}
	refuse := func(why error) (*Received, error) {
		if _, err := s.cfg.Store.RecordDelivery(ctx, r.ID, "", store.DeliveryRefused, s.cfg.Now()); err != nil {
			s.cfg.Logger.Warn("count refused delivery", "subscription", r.ID, "err", err)
		}
		return nil, fmt.Errorf("%w: %w", connector.ErrNotificationRefused, why)
	}
	if subtle.ConstantTimeCompare([]byte(hashToken(token)), []byte(r.TokenHash)) != 1 {
		return refuse(errors.New("the URL's token is wrong"))
	}
	v, ok := s.connector(c.Provider).(connector.NotificationVerifier)
	if !ok {
		return refuse(fmt.Errorf("%s sends no notifications", c.Provider))
	}
	cur, err := s.subscription(r)
	if err != nil {
		return nil, err
	}
	n, err := v.VerifyNotification(d, cur, s.cfg.Clients[c.Provider].Secret, s.cfg.Now())
	if err != nil {
		return refuse(err)
	}
	if n.Empty {
		return &Received{Subscription: r, Notification: n, Outcome: store.DeliveryDuplicate}, nil
	}
	outcome, err := s.cfg.Store.RecordDelivery(ctx, r.ID, n.ID, store.DeliveryAccepted, s.cfg.Now())
	if err != nil {
		return nil, err
	}
	return &Received{Subscription: r, Notification: n, Outcome: outcome}, nil
}

// FetchPayloads reads the payloads a ping announced, for providers whose
// notifications carry no change (Airtable), and stores the new cursor.
func (s *Service) FetchPayloads(ctx context.Context, connID, object string) error {
	c, err := s.cfg.Store.ConnectionByID(ctx, connID)
	if err != nil {
		return err
	}
	f, ok := s.connector(c.Provider).(connector.PayloadFetcher)
	if !ok {
		return nil
	}
	subs, err := s.cfg.Store.ConnectionSubscriptions(ctx, connID)
	if err != nil {
		return err
	}
	for _, r := range subs {
		if r.Object != object || r.ExternalID == "" {
			continue
		}
		cur, err := s.subscription(r)
		if err != nil {
			return err
		}
		sess, _, err := s.Session(ctx, c)
		if err != nil {
			return err
		}
		next, err := f.FetchPayloads(ctx, sess, cur)
		if err != nil {
			return fmt.Errorf("fetch payloads of %s: %w", object, err)
		}
		if next != r.Cursor {
			return s.cfg.Store.SetSubscriptionCursor(ctx, r.ID, next)
		}
	}
	return nil
}

// RealtimeState is what real time means on one connection now.
type RealtimeState struct {
	// State is "on", "degraded" (notifications do not arrive: the syncs poll)
	// or "polling" (the provider offers none Patchbay can use); "" when the
	// connection has no realtime sync.
	State  string `json:"state"`
	Method string `json:"method"`
	// Reason says why real time is degraded, in words for people.
	Reason            string                      `json:"reason,omitempty"`
	Description       string                      `json:"description"`
	ExpectedDelaySecs float64                     `json:"expected_delay_seconds"`
	PollIntervalSecs  float64                     `json:"poll_interval_seconds"`
	Subscriptions     []RealtimeSubscriptionState `json:"subscriptions,omitempty"`
	Label             string                      `json:"label"`
}

// RealtimeSubscriptionState is one subscription as the API shows it.
type RealtimeSubscriptionState struct {
	Object         string    `json:"object"`
	Status         string    `json:"status"`
	Reason         string    `json:"reason,omitempty"`
	ExpiresAt      time.Time `json:"expires_at,omitzero"`
	CheckedAt      time.Time `json:"checked_at,omitzero"`
	LastDeliveryAt time.Time `json:"last_delivery_at,omitzero"`
	Deliveries     int64     `json:"deliveries"`
	Duplicates     int64     `json:"duplicates"`
	Refused        int64     `json:"refused"`
}

// Subscribes says whether a provider's connector subscribes to changes.
func (s *Service) Subscribes(provider string) bool {
	_, ok := s.connector(provider).(connector.Subscriber)
	return ok
}

// RealtimeOf is what realtime means for a provider.
func (s *Service) RealtimeOf(provider string) connector.Realtime {
	return connector.RealtimeOf(s.connector(provider))
}

// Realtime says whether real time is on for a connection, and why not.
func (s *Service) Realtime(ctx context.Context, c *store.Connection) (RealtimeState, error) {
	rt := s.RealtimeOf(c.Provider)
	out := RealtimeState{Method: rt.Method, Description: rt.Description, ExpectedDelaySecs: rt.ExpectedDelay.Seconds(), PollIntervalSecs: rt.PollInterval.Seconds()}
	syncs, err := s.cfg.Store.ConnectionRealtimeSyncs(ctx, c.ID)
	if err != nil {
		return out, err
	}
	if len(syncs) == 0 {
		out.Label = "real time: no realtime sync"
		return out, nil
	}
	degrade := func(reason string) {
		if out.State != "degraded" {
			out.State, out.Reason = "degraded", reason
		}
	}
	out.State = "on"
	switch rt.Method {
	case connector.RealtimePoll:
		out.State = "polling"
	case connector.RealtimeAppWebhook:
		if s.cfg.Clients[c.Provider].Secret == "" {
			degrade("this server has no app secret for the provider, so it cannot check the provider's webhooks")
		}
	case connector.RealtimeWebhook:
		subs, err := s.cfg.Store.ConnectionSubscriptions(ctx, c.ID)
		if err != nil {
			return out, err
		}
		byObject := map[string]*store.RealtimeSubscription{}
		for _, r := range subs {
			byObject[r.Object] = r
			out.Subscriptions = append(out.Subscriptions, RealtimeSubscriptionState{Object: r.Object, Status: r.Status, Reason: r.Reason,
				ExpiresAt: r.ExpiresAt, CheckedAt: r.CheckedAt, LastDeliveryAt: r.LastDelivery, Deliveries: r.Deliveries, Duplicates: r.Duplicates, Refused: r.Refused})
		}
		for _, y := range syncs {
			r := byObject[y.Object]
			switch {
			case r == nil:
				degrade("the subscription for " + y.Object + " is not made yet")
			case r.Status != store.SubscriptionOn:
				degrade(r.Reason)
			}
		}
	}
	if c.Status != StatusConnected {
		degrade("the connection is not connected")
	}
	switch out.State {
	case "on":
		out.Label = "real time: on"
	case "polling":
		out.Label = "real time: polling every " + humanDuration(rt.PollInterval)
	default:
		out.Label = "real time: degraded to polling (" + out.Reason + ")"
	}
	return out, nil
}

// humanDuration writes whole minutes as "1 minute", "5 minutes".
func humanDuration(d time.Duration) string {
	if d >= time.Minute && d%time.Minute == 0 {
		if m := int(d / time.Minute); m != 1 {
			return fmt.Sprintf("%d minutes", m)
		}
		return "1 minute"
	}
	return d.String()
}
