package syncer

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"patchbay/internal/connector"
	"patchbay/internal/store"
)

// WebhookConfig configures a receiver of one provider's webhooks.
type WebhookConfig struct {
	Provider string
	// Secret signs the provider's requests (HubSpot: the app's client secret).
	Secret string
	// BaseURL is Patchbay's public URL; the signed URI is BaseURL + the request URI.
	BaseURL string
	// Verify checks a request's signature headers against its body.
	Verify func(secret, method, uri string, body []byte, header http.Header, now time.Time) error
	// Parse reads the body into changes.
	Parse func(body []byte) ([]connector.Change, error)
	Store *store.Store
	// Notify asks for a debounced run of a realtime sync (a job).
	Notify func(ctx context.Context, syncID string) error
	Logger *slog.Logger
	// MaxBody bounds a request body. Default 1 MiB.
	MaxBody int64
}

// NewWebhookHandler receives provider webhooks and asks for an inbound run of
// the realtime syncs of each account and object named (debounced). It writes
// nothing for a request that is too large, unsigned, stale or malformed.
func NewWebhookHandler(cfg WebhookConfig) http.Handler {
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 1 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, cfg.MaxBody))
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			http.Error(w, "the body is larger than the webhook limit", http.StatusRequestEntityTooLarge)
			return
		case err != nil:
			http.Error(w, "cannot read the body", http.StatusBadRequest)
			return
		}
		if err := cfg.Verify(cfg.Secret, r.Method, cfg.BaseURL+r.URL.RequestURI(), body, r.Header, time.Now()); err != nil {
			cfg.Logger.Info("webhook refused", "provider", cfg.Provider, "err", err)
			http.Error(w, "signature check failed", http.StatusUnauthorized)
			return
		}
		changes, err := cfg.Parse(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		seen := map[[2]string]bool{}
		for _, c := range changes {
			k := [2]string{c.Account, c.Object}
			if seen[k] {
				continue
			}
			seen[k] = true
			ys, err := cfg.Store.RealtimeSyncs(r.Context(), cfg.Provider, c.Account)
			if err != nil {
				cfg.Logger.Error("find realtime syncs", "provider", cfg.Provider, "err", err)
				http.Error(w, "try again", http.StatusServiceUnavailable) // the provider retries
				return
			}
			for _, y := range ys {
				if y.Direction == Inbound && y.Object == c.Object {
					if err := cfg.Notify(r.Context(), y.ID); err != nil {
						cfg.Logger.Error("queue realtime run", "provider", cfg.Provider, "sync", y.ID, "err", err)
						http.Error(w, "try again", http.StatusServiceUnavailable)
						return
					}
				}
			}
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
