package app

import (
	"context"
	"log/slog"

	"patchbay/internal/catalog"
	"patchbay/internal/config"
	"patchbay/internal/health"
	"patchbay/internal/notify"
	"patchbay/internal/store"
	"patchbay/internal/vault"
)

// background is the health monitor and the notifier of a process: built by
// New; the notifier's deliveries run between Serve's or Work's start and
// return. The monitor has no loop of its own: the job engine's sweep asks it
// which connections are due and its probe jobs call it.
type background struct {
	notifier *notify.Notifier
	monitor  *health.Monitor
	cfg      config.Config
}

// newBackground builds the notifier; the monitor follows in attach, once the
// connection service exists (it tells the notifier about status changes).
func newBackground(cfg *config.Config, st *store.Store, v *vault.Vault, cat *catalog.Catalog, o Options, log *slog.Logger) (*background, error) {
	n, err := notify.New(notify.Config{
		Store: st, Vault: v, Catalog: cat, BaseURL: o.BaseURL, Logger: log, SyncFailures: cfg.Health.SyncFailures,
		SMTP: notify.SMTPConfig{Host: cfg.SMTP.Host, Port: cfg.SMTP.Port, Username: cfg.SMTP.Username, Password: cfg.SMTP.Password,
			From: cfg.SMTP.From, StartTLS: cfg.SMTP.StartTLS},
		// The demo's fakes and the tests' receivers live on loopback.
		Webhook: notify.WebhookConfig{AllowPrivate: cfg.Health.AllowPrivate || len(o.Fakes) > 0},
	})
	if err != nil {
		return nil, err
	}
	return &background{notifier: n, cfg: *cfg}, nil
}

// changed is connection.Config.OnChange: a status change may open or close
// a notification episode.
func (b *background) changed(ctx context.Context, c *store.Connection) { b.notifier.Observe(ctx, c) }

// attach builds the monitor over the connection service and gives the API
// the notification routes.
func (b *background) attach(a *App) error {
	m, err := health.New(health.Config{Store: a.Store, Conns: a.Conns, Interval: b.cfg.ProbeInterval,
		Concurrency: b.cfg.Health.ProbeConcurrency, Observe: b.notifier.Observe, Logger: a.Log})
	if err != nil {
		return err
	}
	b.monitor = m
	a.API.UseNotifications(b.notifier)
	return nil
}

// start runs the notifier's deliveries and monthly digest until ctx ends;
// the returned func stops them and waits for every goroutine.
func (b *background) start(ctx context.Context) (stop func()) {
	b.notifier.Start(ctx)
	return b.notifier.Stop
}

// Monitor is the health monitor (tests sweep with it).
func (a *App) Monitor() *health.Monitor { return a.bg.monitor }

// Notifier is the notifier (tests send digests with it).
func (a *App) Notifier() *notify.Notifier { return a.bg.notifier }
