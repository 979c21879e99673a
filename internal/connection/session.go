package connection

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"golang.org/x/oauth2"

	"patchbay/internal/catalog"
	"patchbay/internal/connector"
	"patchbay/internal/store"
	"patchbay/internal/transport"
)

// session builds an authenticated session for c. With live set, the token is
// read from the store (and refreshed) at each request, so a reconnect or a
// refresh in the middle of a run is picked up by the next request; without it
// the given credentials are used as they are (connect-time probes).
func (s *Service) session(p *catalog.Provider, c *store.Connection, creds connector.Credentials, live bool) connector.Session {
	budget := s.budgets.Get(c.ID, p.RateLimit.Requests, p.RateLimit.PeriodDuration())
	opts := transport.Options{Base: s.cfg.HTTP.Transport, Budget: budget}
	current := creds
	authorize := func(ctx context.Context, req *http.Request) error {
		if live {
			fresh, err := s.Token(ctx, c.ID, "")
			if err != nil {
				return err
			}
			current = fresh
		}
		setAuth(req, current)
		return nil
	}
	opts.Authorize = authorize
	if live && p.Auth == catalog.AuthOAuth2 {
		opts.Refresh = func(ctx context.Context) error {
			_, err := s.Token(ctx, c.ID, current.AccessToken)
			return err
		}
	}
	opts.Observe = func(status int) {
		if s.cfg.OnProviderCall != nil {
			s.cfg.OnProviderCall(p.ID, status)
		}
		if status < 400 && live {
			if err := s.cfg.Store.TouchActivity(context.WithoutCancel(context.Background()), c.ID, s.cfg.Now()); err != nil {
				s.cfg.Logger.Warn("record activity", "connection", c.ID, "err", err)
			}
		}
	}
	base := c.Endpoint
	if base == "" {
		base = p.URLs.API
	}
	return connector.Session{HTTP: transport.New(opts).Client(), BaseURL: base, Config: c.Config, Creds: creds}
}

func setAuth(req *http.Request, creds connector.Credentials) {
	switch {
	case creds.AccessToken != "":
		req.Header.Set("Authorization", "Bearer "+creds.AccessToken)
	case creds.APIKey != "":
		req.Header.Set("Authorization", "Bearer "+creds.APIKey)
	}
}

// Session returns a live session for a stored connection: every request
// carries the current token, refreshed as needed. Syncs and enrichment use it.
func (s *Service) Session(ctx context.Context, c *store.Connection) (connector.Session, connector.Connector, error) {
	p, ok := s.cfg.Catalog.Get(c.Provider)
	if !ok {
		return connector.Session{}, nil, fmt.Errorf("session: provider %q left the catalog", c.Provider)
	}
	conn, ok := s.cfg.Connectors.Get(c.Provider)
	if !ok {
		return connector.Session{}, nil, fmt.Errorf("session: no connector for %q", c.Provider)
	}
	creds, err := s.Token(ctx, c.ID, "")
	if err != nil {
		return connector.Session{}, nil, err
	}
	return s.session(p, c, creds, true), conn, nil
}

// probe asks the provider who the credentials belong to.
func (s *Service) probe(ctx context.Context, p *catalog.Provider, c *store.Connection, creds connector.Credentials) (connector.Account, error) {
	conn, ok := s.cfg.Connectors.Get(p.ID)
	if !ok {
		return connector.Account{}, fmt.Errorf("no connector for %q", p.ID)
	}
	return conn.Identity(ctx, s.session(p, c, creds, false))
}

// Token returns usable credentials for a connection, refreshing an OAuth
// access token that expires within the refresh margin. failed is the access
// token a provider just refused (refresh regardless of expiry), or "".
//
// Refreshes are single-flight per connection: concurrent callers share one
// call to the provider. The credentials are re-read after joining the flight,
// so a caller that arrives after someone else refreshed uses the new token
// instead of spending the (possibly rotated) refresh token again. The new
// refresh token is stored before the new access token is handed out.
func (s *Service) Token(ctx context.Context, connID, failed string) (connector.Credentials, error) {
	creds, err := s.loadCreds(ctx, connID)
	if err != nil {
		return connector.Credentials{}, err
	}
	if !s.needsRefresh(creds, failed) {
		return creds, nil
	}
	v, err, _ := s.refresh.Do(connID, func() (any, error) {
		return s.doRefresh(context.WithoutCancel(ctx), connID, failed)
	})
	if err != nil {
		return connector.Credentials{}, err
	}
	return v.(connector.Credentials), nil
}

func (s *Service) needsRefresh(creds connector.Credentials, failed string) bool {
	if creds.RefreshToken == "" {
		return false
	}
	if failed != "" && failed == creds.AccessToken {
		return true
	}
	return !creds.Expiry.IsZero() && creds.Expiry.Before(s.cfg.Now().Add(s.cfg.RefreshMargin))
}

// Refresh decisions, kept for the audit trail and tests.
const (
	refreshBackoffBase = time.Minute
	refreshBackoffMax  = 6 * time.Hour
)

func (s *Service) doRefresh(ctx context.Context, connID, failed string) (connector.Credentials, error) {
	c, err := s.cfg.Store.ConnectionByID(ctx, connID)
	if err != nil {
		return connector.Credentials{}, err
	}
	creds, err := s.loadCreds(ctx, connID) // re-read: another caller may have refreshed already
	if err != nil {
		return connector.Credentials{}, err
	}
	if !s.needsRefresh(creds, failed) {
		return creds, nil
	}
	now := s.cfg.Now()
	if now.Before(c.RefreshBlockedUntil) {
		return connector.Credentials{}, &connector.Error{Class: connector.ClassRevoked, Message: fmt.Sprintf("%s; next attempt after %s", ErrRefreshBlocked, c.RefreshBlockedUntil.Format(time.RFC3339))}
	}
	p, ok := s.cfg.Catalog.Get(c.Provider)
	if !ok {
		return connector.Credentials{}, fmt.Errorf("refresh %s: provider %q left the catalog", connID, c.Provider)
	}
	src := s.oauthConfig(p, c.ScopesGranted).TokenSource(s.tokenCtx(ctx), &oauth2.Token{RefreshToken: creds.RefreshToken})
	tok, rerr := src.Token()
	if rerr != nil {
		rerr = tokenError(rerr)
		if err := s.refreshFailed(ctx, connID, p, rerr); err != nil {
			return connector.Credentials{}, errors.Join(rerr, err)
		}
		return connector.Credentials{}, fmt.Errorf("refresh %s: %w", connID, rerr)
	}
	fresh := credsFromToken(tok, creds)
	err = s.cfg.Store.InTx(ctx, func(tx *store.Tx) error {
		cur, err := tx.GetConnection(ctx, connID)
		if err != nil {
			return err
		}
		if err := s.saveCreds(ctx, tx, connID, fresh); err != nil {
			return err
		}
		cur.ExpiresAt, cur.LastRefreshAt = fresh.Expiry, now.UTC()
		cur.RefreshFailures, cur.RefreshBlockedUntil = 0, time.Time{}
		if cur.Status == StatusExpired {
			cur.Status, cur.Reason, cur.ReasonDetail = StatusConnected, ReasonNone, ""
		}
		return tx.UpdateConnection(ctx, cur)
	})
	if err != nil {
		// The provider may have rotated the refresh token; without saving it the
		// connection cannot refresh again, so say so plainly.
		return connector.Credentials{}, fmt.Errorf("refresh %s: store new token: %w", connID, err)
	}
	s.cfg.Logger.Info("token refreshed", "connection", connID, "provider", p.ID, "expires_at", fresh.Expiry)
	return fresh, nil
}

// refreshFailed records a failed refresh and backs off exponentially, so a
// dead connection costs a handful of calls a day, not thousands.
func (s *Service) refreshFailed(ctx context.Context, connID string, p *catalog.Provider, rerr error) error {
	return s.cfg.Store.InTx(ctx, func(tx *store.Tx) error {
		cur, err := tx.GetConnection(ctx, connID)
		if err != nil {
			return err
		}
		cur.RefreshFailures++
		wait := min(refreshBackoffBase<<min(cur.RefreshFailures-1, 20), refreshBackoffMax)
		cur.RefreshBlockedUntil = s.cfg.Now().Add(wait).UTC()
		cur.LastError = rerr.Error()
		prev := cur.Status
		if status, reason, ok := Classify(rerr, p.Auth); ok {
			if connector.ClassOf(rerr) == connector.ClassRevoked {
				status, reason = StatusExpired, ReasonTokenExpired
			}
			cur.Status, cur.Reason, cur.ReasonDetail = status, reason, detail(reason, rerr)
		}
		if err := tx.UpdateConnection(ctx, cur); err != nil {
			return err
		}
		if prev != cur.Status {
			return tx.AddEvent(ctx, &store.Event{WorkspaceID: cur.WorkspaceID, ConnectionID: cur.ID, Kind: "connection.refresh_failed",
				Message: fmt.Sprintf("%s token refresh failed: %s", p.Name, rerr)})
		}
		return nil
	})
}

// Test probes a connection now and stores the status the probe shows.
func (s *Service) Test(ctx context.Context, ws *store.Workspace, id string) (*store.Connection, error) {
	c, err := s.cfg.Store.GetConnection(ctx, ws.ID, id)
	if err != nil {
		return nil, err
	}
	return s.Probe(ctx, c)
}

// Probe checks one connection with the provider's identity call and records
// the outcome; the health monitor calls it for every connection.
func (s *Service) Probe(ctx context.Context, c *store.Connection) (*store.Connection, error) {
	if c.Status == StatusDisconnected || c.Status == StatusNotConnected {
		return c, nil
	}
	p, ok := s.cfg.Catalog.Get(c.Provider)
	if !ok || p.Auth == catalog.AuthNone {
		return c, nil
	}
	perr := s.identify(ctx, c)
	err := s.cfg.Store.InTx(ctx, func(tx *store.Tx) error {
		cur, err := tx.GetConnection(ctx, c.ID)
		if err != nil {
			return err
		}
		prev := cur.Status + "/" + cur.Reason
		cur.LastCheckedAt = s.cfg.Now().UTC()
		switch {
		case perr == nil:
			if cur.Reason != ReasonLimitedPermissions && cur.Reason != ReasonExpiringSoon {
				cur.Status, cur.Reason, cur.ReasonDetail = StatusConnected, ReasonNone, ""
			} else {
				cur.Status = StatusConnected
			}
			cur.LastError = ""
		case errors.Is(perr, ErrNoCredentials):
			cur.Status, cur.Reason, cur.ReasonDetail = StatusExpired, ReasonTokenExpired, "no stored credentials"
		default:
			if status, reason, ok := Classify(perr, p.Auth); ok {
				cur.Status, cur.Reason, cur.ReasonDetail = status, reason, detail(reason, perr)
			}
			cur.LastError = perr.Error()
		}
		if err := tx.UpdateConnection(ctx, cur); err != nil {
			return err
		}
		c = cur
		if now := cur.Status + "/" + cur.Reason; now != prev {
			return tx.AddEvent(ctx, &store.Event{WorkspaceID: cur.WorkspaceID, ConnectionID: cur.ID, Kind: "connection.status_changed",
				Message: fmt.Sprintf("%s: %s → %s", p.Name, prev, now), Data: map[string]any{"from": prev, "to": now}})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("probe %s: %w", c.ID, err)
	}
	return c, nil
}

// SyncFailed is told by the sync engine that a run met err. When err says
// something about the connection (auth, revoked, outage), the connection takes
// that status once, and on an auth-class failure the sync waits for a
// reconnect (paused with PauseAuthFailed; a reconnect resumes it). It reports
// whether the failure was the connection's rather than the sync's.
func (s *Service) SyncFailed(ctx context.Context, connID, syncID string, failure error) (bool, error) {
	c, gerr := s.cfg.Store.ConnectionByID(ctx, connID)
	if gerr != nil {
		return false, gerr
	}
	p, ok := s.cfg.Catalog.Get(c.Provider)
	if !ok {
		return false, fmt.Errorf("sync failed: provider %q left the catalog", c.Provider)
	}
	status, reason, ok := Classify(failure, p.Auth)
	if !ok || status == StatusConnected {
		return false, nil
	}
	authClass := reason != ReasonServiceUnavailable
	terr := s.cfg.Store.InTx(ctx, func(tx *store.Tx) error {
		cur, err := tx.GetConnection(ctx, connID)
		if err != nil {
			return err
		}
		if authClass {
			if err := tx.PauseSync(ctx, syncID, PauseAuthFailed); err != nil {
				return err
			}
		}
		if cur.Status == status && cur.Reason == reason {
			return nil // already shown on the connection: once, not once per sync
		}
		prev := cur.Status + "/" + cur.Reason
		cur.Status, cur.Reason, cur.ReasonDetail, cur.LastError = status, reason, detail(reason, failure), failure.Error()
		if err := tx.UpdateConnection(ctx, cur); err != nil {
			return err
		}
		return tx.AddEvent(ctx, &store.Event{WorkspaceID: cur.WorkspaceID, ConnectionID: cur.ID, Kind: "connection.status_changed",
			Message: fmt.Sprintf("%s: %s → %s/%s (seen by sync %s)", p.Name, prev, status, reason, syncID),
			Data:    map[string]any{"from": prev, "to": status + "/" + reason, "sync_id": syncID}})
	})
	return true, terr
}

// identify runs the identity call. Some providers take the token in the URL
// (HubSpot's token metadata), where the transport's refresh-on-401 cannot
// swap it; so a 401 is answered here by one refresh and a second call with a
// session built from the new credentials.
func (s *Service) identify(ctx context.Context, c *store.Connection) error {
	sess, conn, err := s.Session(ctx, c)
	if err != nil {
		return err
	}
	_, err = conn.Identity(ctx, sess)
	if connector.ClassOf(err) != connector.ClassUnauthorized || sess.Creds.RefreshToken == "" {
		return err
	}
	if _, rerr := s.Token(ctx, c.ID, sess.Creds.AccessToken); rerr != nil {
		return rerr
	}
	if sess, conn, err = s.Session(ctx, c); err != nil {
		return err
	}
	_, err = conn.Identity(ctx, sess)
	return err
}
