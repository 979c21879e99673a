// Package notify tells people about connection health before syncs fail: by
// e-mail (SMTP) and by signed webhooks (JSON that Slack and Zapier incoming
// webhooks accept). Alerts are raised once per episode — a connection turning
// red, a token about to expire, a sync failing N times in a row — and the
// recovery closes the episode with one more message; probes that see the same
// trouble again stay quiet. Routes decide which address or webhook hears about
// which connection; a monthly digest sums up every connection. Every
// notification is also written to the audit log (events).
package notify

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"time"

	"patchbay/internal/catalog"
	"patchbay/internal/connection"
	"patchbay/internal/store"
	"patchbay/internal/vault"
)

// Notification kinds; routes may subscribe to a subset.
const (
	KindRed         = "connection.red"
	KindExpiring    = "connection.expiring_soon"
	KindSyncFailing = "sync.failing"
	KindRecovered   = "connection.recovered"
	KindDigest      = "digest.monthly"
)

// Kinds lists every kind, for validation and docs.
var Kinds = []string{KindRed, KindExpiring, KindSyncFailing, KindRecovered, KindDigest}

// Channels of a route.
const (
	ChannelEmail   = "email"
	ChannelWebhook = "webhook"
)

// episode kinds in the store
const (
	episodeRed      = "red"
	episodeExpiring = "expiring"
	episodeSync     = "sync_failing"
	episodeDigest   = "digest"
)

// Config configures a Notifier.
type Config struct {
	Store   *store.Store     // required
	Vault   *vault.Vault     // required: seals webhook secrets
	Catalog *catalog.Catalog // required: provider names
	SMTP    SMTPConfig
	Webhook WebhookConfig
	// SyncFailures is N of "a sync failed N times in a row". Default 3.
	SyncFailures int
	// BaseURL is where people open Patchbay (links in messages).
	BaseURL string
	// Workers deliver in the background. Default 2.
	Workers int
	Logger  *slog.Logger
	Now     func() time.Time
}

// Notifier raises, routes and delivers notifications.
type Notifier struct {
	cfg    Config
	mail   mailer
	hooks  *poster
	queue  chan delivery
	mu     sync.Mutex
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Message is one notification, as routes receive it.
type Message struct {
	ID           string         `json:"id"`
	Kind         string         `json:"event"`
	WorkspaceID  string         `json:"workspace_id"`
	ConnectionID string         `json:"connection_id,omitempty"`
	Provider     string         `json:"provider,omitempty"`
	SyncID       string         `json:"sync_id,omitempty"`
	Status       string         `json:"status,omitempty"`
	Reason       string         `json:"reason,omitempty"`
	Health       string         `json:"health,omitempty"`
	Subject      string         `json:"subject"`
	Text         string         `json:"text"` // Slack and Zapier show this field
	URL          string         `json:"url,omitempty"`
	Data         map[string]any `json:"data,omitempty"`
	OccurredAt   time.Time      `json:"occurred_at"`
}

type delivery struct {
	msg   *Message
	route *store.NotificationRoute
}

// New returns a Notifier; deliveries start with Start.
func New(cfg Config) (*Notifier, error) {
	if cfg.Store == nil || cfg.Vault == nil || cfg.Catalog == nil {
		return nil, errors.New("notify: Config needs Store, Vault and Catalog")
	}
	if err := cfg.SMTP.validate(); err != nil {
		return nil, err
	}
	if cfg.SyncFailures <= 0 {
		cfg.SyncFailures = 3
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Notifier{cfg: cfg, mail: mailer{cfg.SMTP}, hooks: newPoster(cfg.Webhook, cfg.Now), queue: make(chan delivery, 1024)}, nil
}

// Start runs the delivery workers and the monthly digest until Stop.
func (n *Notifier) Start(ctx context.Context) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cancel != nil {
		return
	}
	ctx, n.cancel = context.WithCancel(ctx)
	for range n.cfg.Workers {
		n.wg.Go(func() { n.work(ctx) })
	}
	n.wg.Go(func() { n.digestLoop(ctx) })
}

// Stop ends the background work, finishing the deliveries already queued
// within a few seconds, and waits for it.
func (n *Notifier) Stop() {
	n.mu.Lock()
	cancel := n.cancel
	n.cancel = nil
	n.mu.Unlock()
	if cancel != nil {
		cancel()
		n.wg.Wait()
	}
}

func (n *Notifier) work(ctx context.Context) {
	for {
		select {
		case d := <-n.queue:
			n.deliver(ctx, d)
		case <-ctx.Done():
			// Drain what is queued with a short grace period, then stop.
			grace, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			for {
				select {
				case d := <-n.queue:
					n.deliver(grace, d)
				default:
					return
				}
			}
		}
	}
}

// digestLoop sends the monthly digest on the first day of each month (the
// first hourly check that day; the episode keeps it to one per month across
// restarts and workers). A process that is down all that day skips a month.
func (n *Notifier) digestLoop(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if now := n.cfg.Now(); now.UTC().Day() == 1 {
			if err := n.SendDigests(ctx, now); err != nil && ctx.Err() == nil {
				n.cfg.Logger.Error("monthly digest", "err", err)
			}
		}
	}
}

// Observe looks at a connection as it is now and raises or closes its
// episodes: red (one alert; the recovery closes it with one message),
// expiring soon, and each sync's run of failures. Calling it again with the
// same state does nothing, so probes and status changes may both call it.
func (n *Notifier) Observe(ctx context.Context, c *store.Connection) {
	if err := n.observe(ctx, c); err != nil {
		n.cfg.Logger.Error("notifications", "connection", c.ID, "err", err)
	}
}

func (n *Notifier) observe(ctx context.Context, c *store.Connection) error {
	now := n.cfg.Now().UTC()
	name := c.Provider
	if p, ok := n.cfg.Catalog.Get(c.Provider); ok {
		name = p.Name
	}
	label := name
	if c.AccountName != "" {
		label += " (" + c.AccountName + ")"
	}
	health := connection.Health(c.Status, c.Reason)
	base := Message{WorkspaceID: c.WorkspaceID, ConnectionID: c.ID, Provider: c.Provider, Status: c.Status, Reason: c.Reason,
		Health: health, OccurredAt: now, URL: n.link("/connections/" + c.ID)}
	var out []*Message
	err := n.cfg.Store.InTx(ctx, func(tx *store.Tx) error {
		gone := c.Status == connection.StatusDisconnected || c.Status == connection.StatusNotConnected
		switch {
		case health == connection.HealthRed:
			opened, err := tx.OpenEpisode(ctx, &store.Episode{WorkspaceID: c.WorkspaceID, ConnectionID: c.ID, Kind: episodeRed,
				Detail: c.Status + "/" + c.Reason, OpenedAt: now})
			if err != nil {
				return err
			}
			if opened {
				m := base
				m.Kind = KindRed
				x := connection.Explain(c.Reason)
				m.Subject = fmt.Sprintf("%s needs attention: %s", label, strings.ReplaceAll(c.Reason, "_", " "))
				m.Text = fmt.Sprintf("%s turned red (%s/%s).\nCause: %s\nFix: %s", label, c.Status, c.Reason, orText(c.ReasonDetail, x.Cause), x.Fix)
				out = append(out, &m)
			}
		default:
			ep, err := tx.CloseEpisode(ctx, c.WorkspaceID, c.ID, episodeRed, "", now)
			if err != nil {
				return err
			}
			if ep != nil && !gone {
				m := base
				m.Kind = KindRecovered
				m.Subject = fmt.Sprintf("%s recovered", label)
				m.Text = fmt.Sprintf("%s works again (was %s since %s).", label, ep.Detail, ep.OpenedAt.Format(time.RFC3339))
				m.Data = map[string]any{"was": ep.Detail, "since": ep.OpenedAt}
				out = append(out, &m)
			}
		}
		if c.Reason == connection.ReasonExpiringSoon {
			opened, err := tx.OpenEpisode(ctx, &store.Episode{WorkspaceID: c.WorkspaceID, ConnectionID: c.ID, Kind: episodeExpiring,
				Detail: c.ReasonDetail, OpenedAt: now})
			if err != nil {
				return err
			}
			if opened {
				m := base
				m.Kind = KindExpiring
				m.Subject = fmt.Sprintf("%s will stop working soon", label)
				m.Text = fmt.Sprintf("%s: %s.\nFix: %s", label, c.ReasonDetail, connection.Explain(c.Reason).Fix)
				out = append(out, &m)
			}
		} else if _, err := tx.CloseEpisode(ctx, c.WorkspaceID, c.ID, episodeExpiring, "", now); err != nil {
			return err
		}
		if gone {
			return nil
		}
		msgs, err := n.syncEpisodes(ctx, tx, c, base, label, now)
		out = append(out, msgs...)
		return err
	})
	if err != nil {
		return err
	}
	for _, m := range out {
		if err := n.Send(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

// syncEpisodes raises "failed N times in a row" for each sync whose last N
// runs failed, and closes it when a run succeeds.
func (n *Notifier) syncEpisodes(ctx context.Context, tx *store.Tx, c *store.Connection, base Message, label string, now time.Time) ([]*Message, error) {
	syncs, err := tx.ListSyncs(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	var out []*Message
	for _, y := range syncs {
		runs, err := n.cfg.Store.ListRuns(ctx, c.WorkspaceID, y.ID, "", n.cfg.SyncFailures)
		if err != nil {
			return nil, err
		}
		if len(runs) == 0 || runs[0].Status == "running" {
			continue
		}
		failing := len(runs) == n.cfg.SyncFailures && !slices.ContainsFunc(runs, func(r *store.Run) bool { return r.Status != "failed" })
		switch {
		case failing:
			opened, err := tx.OpenEpisode(ctx, &store.Episode{WorkspaceID: c.WorkspaceID, ConnectionID: c.ID, Subject: y.ID,
				Kind: episodeSync, Detail: runs[0].Error, OpenedAt: now})
			if err != nil {
				return nil, err
			}
			if opened {
				m := base
				m.Kind, m.SyncID = KindSyncFailing, y.ID
				m.Subject = fmt.Sprintf("A %s sync of %s failed %d times in a row", y.Object, label, n.cfg.SyncFailures)
				m.Text = fmt.Sprintf("Sync %s (%s %s) failed %d times in a row. Last error: %s", y.ID, y.Direction, y.Object, n.cfg.SyncFailures,
					orText(runs[0].Error, runs[0].ErrorClass))
				m.Data = map[string]any{"error_class": runs[0].ErrorClass, "error": runs[0].Error}
				out = append(out, &m)
			}
		case runs[0].Status == "succeeded" || runs[0].Status == "partial":
			ep, err := tx.CloseEpisode(ctx, c.WorkspaceID, c.ID, episodeSync, y.ID, now)
			if err != nil {
				return nil, err
			}
			if ep != nil {
				m := base
				m.Kind, m.SyncID = KindRecovered, y.ID
				m.Subject = fmt.Sprintf("A %s sync of %s works again", y.Object, label)
				m.Text = fmt.Sprintf("Sync %s (%s %s) ran successfully again.", y.ID, y.Direction, y.Object)
				out = append(out, &m)
			}
		}
	}
	return out, nil
}

func orText(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (n *Notifier) link(path string) string {
	if n.cfg.BaseURL == "" {
		return ""
	}
	return strings.TrimSuffix(n.cfg.BaseURL, "/") + path
}

// Send writes m to the audit log and queues it for every route that hears
// about its connection and kind.
func (n *Notifier) Send(ctx context.Context, m *Message) error {
	if m.ID == "" {
		m.ID = store.NewID("ntf")
	}
	if m.OccurredAt.IsZero() {
		m.OccurredAt = n.cfg.Now().UTC()
	}
	routes, err := n.cfg.Store.ListRoutes(ctx, m.WorkspaceID)
	if err != nil {
		return err
	}
	var matched []*store.NotificationRoute
	var ids []string
	for _, r := range routes {
		if (r.ConnectionID == "" || r.ConnectionID == m.ConnectionID) && (len(r.Events) == 0 || slices.Contains(r.Events, m.Kind)) {
			matched = append(matched, r)
			ids = append(ids, r.ID)
		}
	}
	data := map[string]any{"notification_id": m.ID, "routes": ids, "subject": m.Subject}
	if m.SyncID != "" {
		data["sync_id"] = m.SyncID
	}
	if err := n.cfg.Store.AddEvent(ctx, &store.Event{WorkspaceID: m.WorkspaceID, ConnectionID: m.ConnectionID,
		Kind: "notification." + m.Kind, Message: m.Subject, Data: data}); err != nil {
		return err
	}
	for _, r := range matched {
		select {
		case n.queue <- delivery{msg: m, route: r}:
		default:
			n.failed(ctx, m, r, 0, errors.New("the delivery queue is full"))
		}
	}
	return nil
}

func (n *Notifier) deliver(ctx context.Context, d delivery) {
	attempts, err := n.transmit(ctx, d)
	if err != nil {
		n.failed(ctx, d.msg, d.route, attempts, err)
		return
	}
	n.cfg.Logger.Info("notification delivered", "kind", d.msg.Kind, "route", d.route.ID, "channel", d.route.Channel, "attempts", attempts)
}

// transmit sends one message over one route: the e-mail, or the signed
// webhook with its retries.
func (n *Notifier) transmit(ctx context.Context, d delivery) (attempts int, err error) {
	attempts = 1
	switch d.route.Channel {
	case ChannelEmail:
		if !n.cfg.SMTP.Enabled() {
			return attempts, errors.New("e-mail is not configured: set PATCHBAY_SMTP_HOST and PATCHBAY_SMTP_FROM")
		}
		body := d.msg.Text
		if d.msg.URL != "" {
			body += "\n\nOpen in Patchbay: " + d.msg.URL
		}
		return attempts, n.mail.send(ctx, []string{d.route.Target}, "[Patchbay] "+d.msg.Subject, body)
	case ChannelWebhook:
		secret, err := n.cfg.Vault.Open(d.route.Secret, []byte(d.route.ID))
		if err != nil {
			return attempts, err
		}
		body, err := json.Marshal(d.msg)
		if err != nil {
			return attempts, err
		}
		return n.hooks.post(ctx, d.route.Target, d.msg.Kind, d.msg.ID, secret, body)
	}
	return attempts, fmt.Errorf("unknown channel %q", d.route.Channel)
}

func (n *Notifier) failed(ctx context.Context, m *Message, r *store.NotificationRoute, attempts int, err error) {
	n.cfg.Logger.Warn("notification not delivered", "kind", m.Kind, "route", r.ID, "channel", r.Channel, "attempts", attempts, "err", err)
	if aerr := n.cfg.Store.AddEvent(context.WithoutCancel(ctx), &store.Event{WorkspaceID: m.WorkspaceID, ConnectionID: m.ConnectionID,
		Kind: "notification.failed", Message: fmt.Sprintf("%s to %s route %s not delivered after %d attempts: %s", m.Kind, r.Channel, r.ID, attempts, err),
		Data: map[string]any{"notification_id": m.ID, "route": r.ID, "attempts": attempts}}); aerr != nil {
		n.cfg.Logger.Error("audit log", "err", aerr)
	}
}

// RouteRequest is what a user gives to create a route.
type RouteRequest struct {
	ConnectionID string // "" for every connection of the workspace
	Email        string // one of Email and WebhookURL
	WebhookURL   string
	Events       []string // empty for every kind
}

// FieldError names what is wrong with a route request.
type FieldError struct {
	Field, Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// CreateRoute validates and stores a route. For a webhook it generates the
// signing secret and returns it once; only its sealed form is stored.
func (n *Notifier) CreateRoute(ctx context.Context, workspaceID string, req RouteRequest) (*store.NotificationRoute, string, error) {
	r := &store.NotificationRoute{ID: store.NewID("nrt"), WorkspaceID: workspaceID, ConnectionID: req.ConnectionID, Events: req.Events}
	for _, k := range req.Events {
		if !slices.Contains(Kinds, k) {
			return nil, "", &FieldError{"events", fmt.Sprintf("unknown event %q; choose from %s", k, strings.Join(Kinds, ", "))}
		}
	}
	if req.ConnectionID != "" {
		if _, err := n.cfg.Store.GetConnection(ctx, workspaceID, req.ConnectionID); err != nil {
			return nil, "", &FieldError{"connection_id", fmt.Sprintf("no connection %s in this workspace; leave it empty to hear about every connection", req.ConnectionID)}
		}
	}
	var secret string
	switch {
	case (req.Email == "") == (req.WebhookURL == ""):
		return nil, "", &FieldError{"email", "give exactly one of email and webhook_url"}
	case req.Email != "":
		a, err := mail.ParseAddress(req.Email)
		if err != nil {
			return nil, "", &FieldError{"email", fmt.Sprintf("%q is not an e-mail address", req.Email)}
		}
		r.Channel, r.Target = ChannelEmail, a.Address
	default:
		if err := CheckURL(req.WebhookURL, n.cfg.Webhook.AllowPrivate); err != nil {
			return nil, "", &FieldError{"webhook_url", err.Error()}
		}
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		secret = "whsec_" + fmt.Sprintf("%x", b)
		sealed, err := n.cfg.Vault.Seal([]byte(secret), []byte(r.ID))
		if err != nil {
			return nil, "", err
		}
		r.Channel, r.Target, r.Secret = ChannelWebhook, req.WebhookURL, sealed
	}
	if err := n.cfg.Store.CreateRoute(ctx, r); err != nil {
		return nil, "", err
	}
	return r, secret, nil
}
