package connection

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"time"

	"golang.org/x/oauth2"

	"patchbay/internal/catalog"
	"patchbay/internal/connector"
	"patchbay/internal/store"
	"patchbay/internal/transport"
)

// sessionMode says how a session treats credentials and activity.
type sessionMode int

const (
	// sessionFixed uses the given credentials as they are (probes, which
	// renew them themselves; revocation).
	sessionFixed sessionMode = iota
	// sessionLive reads the token from the store (and refreshes it) at each
	// request, so a reconnect or a refresh in the middle of a run is picked up
	// by the next request; successful calls count as activity.
	sessionLive
)

// session builds an authenticated session for c.
func (s *Service) session(p *catalog.Provider, c *store.Connection, creds connector.Credentials, mode sessionMode) connector.Session {
	live := mode == sessionLive
	p = p.Resolve(c.Config)
	limit := transport.Limit{Requests: p.RateLimit.Requests, Period: p.RateLimit.PeriodDuration(), Concurrency: p.RateLimit.Concurrency}
	if cl := p.RateLimit.Cost; cl != nil {
		limit.CostBucket, limit.CostRestore = cl.Bucket, cl.RestorePerSecond
	}
	opts := transport.Options{Base: s.cfg.HTTP.Transport}
	if per := p.RateLimit.Per; per != "" {
		// The documented limit counts per resource (an Airtable base): each
		// key of the connection gets its own budget.
		opts.Budget = s.budgets.Get(c.ID, 0, 0)
		opts.Keyed = func(key string) *transport.Budget {
			return s.budgets.Get(c.ID+"/"+per+"/"+key, p.RateLimit.Requests, p.RateLimit.PeriodDuration())
		}
	} else {
		opts.Budget = s.budgets.For(c.ID, limit)
		if keyed := p.RateLimit.Keyed; len(keyed) > 0 {
			opts.Keyed = func(key string) *transport.Budget {
				w, ok := keyed[key]
				if !ok {
					return nil
				}
				return s.budgets.Get(c.ID+"/"+key, w.Requests, w.PeriodDuration())
			}
		}
	}
	if conn, ok := s.cfg.Connectors.Get(p.ID); ok {
		if q, ok := conn.(connector.QuotaReader); ok {
			opts.Used = q.RequestsUsed
		}
	}
	opts.Authorize = func(ctx context.Context, req *http.Request) error {
		cur := creds
		if live {
			fresh, err := s.Token(ctx, c.ID, "")
			if err != nil {
				return err
			}
			cur = fresh
		}
		setAuth(req, p.APIAuth, cur)
		return nil
	}
	if live && p.Auth == catalog.AuthOAuth2 {
		// The refused request names the token that failed: requests of one
		// session run concurrently, and one that was refused before another
		// refreshed must not have the fresh token refreshed again.
		opts.Refresh = func(ctx context.Context, refused *http.Request) error {
			_, err := s.Token(ctx, c.ID, sentSecret(refused, p.APIAuth))
			return err
		}
	}
	opts.Observe = func(status int) {
		if s.cfg.OnProviderCall != nil {
			s.cfg.OnProviderCall(p.ID, status)
		}
		if status < 400 && mode == sessionLive {
			if err := s.cfg.Store.TouchActivity(context.WithoutCancel(context.Background()), c.ID, s.cfg.Now()); err != nil {
				s.cfg.Logger.Warn("record activity", "connection", c.ID, "err", err)
			}
		}
	}
	sess := connector.Session{HTTP: transport.New(opts).Client(), BaseURL: apiBase(p, c, creds), Config: c.Config, Creds: creds, IdentityURL: p.URLs.Identity}
	if m := opts.Budget.Meter(); m != nil {
		sess.Meter = m
	}
	return sess
}

// apiBase is where a connection's API calls go: the host its token response
// named for providers with one host per account (Salesforce's instance_url),
// else the connection's endpoint or the catalog's API URL.
func apiBase(p *catalog.Provider, c *store.Connection, creds connector.Credentials) string {
	if p.APIBaseFromToken != "" {
		if u := strings.TrimSuffix(creds.Extra[p.APIBaseFromToken], "/"); u != "" {
			return u
		}
	}
	if c.Endpoint != "" {
		return c.Endpoint
	}
	return p.URLs.API
}

// setAuth puts the credentials on a request the way the catalog entry says.
func setAuth(req *http.Request, a catalog.APIAuth, creds connector.Credentials) {
	secret := creds.AccessToken
	if secret == "" {
		secret = creds.APIKey
	}
	if secret == "" {
		return
	}
	switch a.Style {
	case catalog.APIAuthBasic:
		req.SetBasicAuth("patchbay", secret)
	case catalog.APIAuthHeader:
		req.Header.Set(a.Header, a.Prefix+secret)
	default:
		req.Header.Set("Authorization", "Bearer "+secret)
	}
}

// sentSecret reads back the secret setAuth put on req.
func sentSecret(req *http.Request, a catalog.APIAuth) string {
	switch a.Style {
	case catalog.APIAuthBasic:
		_, secret, _ := req.BasicAuth()
		return secret
	case catalog.APIAuthHeader:
		return strings.TrimPrefix(req.Header.Get(a.Header), a.Prefix)
	default:
		return strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer ")
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
	return s.session(p, c, creds, sessionLive), conn, nil
}

// probe asks the provider who the credentials belong to.
func (s *Service) probe(ctx context.Context, p *catalog.Provider, c *store.Connection, creds connector.Credentials) (connector.Account, error) {
	conn, ok := s.cfg.Connectors.Get(p.ID)
	if !ok {
		return connector.Account{}, fmt.Errorf("no connector for %q", p.ID)
	}
	return conn.Identity(ctx, s.session(p, c, creds, sessionFixed))
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
	return s.token(ctx, connID, failed, s.cfg.RefreshMargin)
}

// token is Token with the refresh horizon given: the health monitor renews
// tokens that expire before its next sweep.
func (s *Service) token(ctx context.Context, connID, failed string, within time.Duration) (connector.Credentials, error) {
	creds, err := s.loadCreds(ctx, connID)
	if err != nil {
		return connector.Credentials{}, err
	}
	if !s.needsRefresh(creds, failed, within) {
		return creds, nil
	}
	v, err, _ := s.refresh.Do(connID, func() (any, error) {
		return s.doRefresh(context.WithoutCancel(ctx), connID, failed, within)
	})
	if err != nil {
		return connector.Credentials{}, err
	}
	return v.(connector.Credentials), nil
}

func (s *Service) needsRefresh(creds connector.Credentials, failed string, within time.Duration) bool {
	if creds.RefreshToken == "" {
		return false
	}
	if failed != "" && failed == creds.AccessToken {
		return true
	}
	return !creds.Expiry.IsZero() && creds.Expiry.Before(s.cfg.Now().Add(within))
}

// Refresh decisions, kept for the audit trail and tests.
const (
	refreshBackoffBase = time.Minute
	refreshBackoffMax  = 6 * time.Hour
)

// doRefresh refreshes under a lock named after the connection, held across
// every process sharing the database (the single flight of Token covers this
// process only), so that two workers never spend the same refresh token.
func (s *Service) doRefresh(ctx context.Context, connID, failed string, within time.Duration) (connector.Credentials, error) {
	var fresh connector.Credentials
	err := s.cfg.Store.WithLock(ctx, "refresh:"+connID, func(ctx context.Context) error {
		var err error
		fresh, err = s.refreshLocked(ctx, connID, failed, within)
		return err
	})
	return fresh, err
}

func (s *Service) refreshLocked(ctx context.Context, connID, failed string, within time.Duration) (connector.Credentials, error) {
	c, err := s.cfg.Store.ConnectionByID(ctx, connID)
	if err != nil {
		return connector.Credentials{}, err
	}
	creds, err := s.loadCreds(ctx, connID) // re-read after the lock: another caller or process may have refreshed already
	if err != nil {
		return connector.Credentials{}, err
	}
	if !s.needsRefresh(creds, failed, within) {
		return creds, nil
	}
	now := s.cfg.Now()
	if now.Before(c.RefreshBlockedUntil) {
		return connector.Credentials{}, &connector.Error{Class: connector.ClassRevoked,
			Message: "next attempt after " + c.RefreshBlockedUntil.Format(time.RFC3339), Err: ErrRefreshBlocked}
	}
	p, ok := s.cfg.Catalog.Get(c.Provider)
	if !ok {
		return connector.Credentials{}, fmt.Errorf("refresh %s: provider %q left the catalog", connID, c.Provider)
	}
	p = p.Resolve(c.Config)
	src := s.oauthConfig(p, c.ScopesGranted).TokenSource(s.tokenCtx(ctx), &oauth2.Token{RefreshToken: creds.RefreshToken})
	tok, rerr := src.Token()
	if rerr != nil {
		rerr = refusal(tokenError(rerr), creds, failed, now)
		if err := s.refreshFailed(ctx, connID, p, rerr); err != nil {
			return connector.Credentials{}, errors.Join(rerr, err)
		}
		return connector.Credentials{}, fmt.Errorf("refresh %s: %w", connID, rerr)
	}
	fresh := credsFromToken(tok, creds)
	var healed *store.Connection
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
		if cur.Status == StatusExpired || (cur.Status == StatusError && cur.Reason == ReasonServiceUnavailable) {
			cur.Status, cur.Reason, cur.ReasonDetail = StatusConnected, ReasonNone, ""
			healed = cur
		}
		return tx.UpdateConnection(ctx, cur)
	})
	if err != nil {
		// The provider may have rotated the refresh token; without saving it the
		// connection cannot refresh again, so say so plainly.
		return connector.Credentials{}, fmt.Errorf("refresh %s: store new token: %w", connID, err)
	}
	if healed != nil {
		s.changed(ctx, healed)
	}
	s.cfg.Logger.Info("token refreshed", "connection", connID, "provider", p.ID, "expires_at", fresh.Expiry)
	return fresh, nil
}

// refusal says what a refused refresh means (see Classify). When the
// provider refused an access token that was still within its lifetime and
// then the refresh token as well, the grant was withdrawn at the provider
// (revoked). Otherwise the token aged out and cannot be renewed (expired).
func refusal(err error, creds connector.Credentials, failed string, now time.Time) error {
	var ce *connector.Error
	if !errors.As(err, &ce) || ce.Class != connector.ClassRevoked {
		return err
	}
	if failed != "" && failed == creds.AccessToken && (creds.Expiry.IsZero() || now.Before(creds.Expiry)) {
		return err
	}
	out := *ce
	out.Class = connector.ClassUnauthorized
	out.Message = "the access token expired and the provider refused to renew it: " + ce.Message
	return &out
}

// refreshFailed records a failed refresh and backs off: exponentially for a
// refused grant, so that a dead connection costs a handful of calls a day, not
// thousands; one short pause for an outage or a rate limit, which heal alone.
func (s *Service) refreshFailed(ctx context.Context, connID string, p *catalog.Provider, rerr error) error {
	var changed *store.Connection
	err := s.cfg.Store.InTx(ctx, func(tx *store.Tx) error {
		cur, err := tx.GetConnection(ctx, connID)
		if err != nil {
			return err
		}
		switch connector.ClassOf(rerr) {
		case connector.ClassUnavailable, connector.ClassRateLimited:
			cur.RefreshBlockedUntil = s.cfg.Now().Add(refreshBackoffBase).UTC()
		default:
			cur.RefreshFailures++
			wait := min(refreshBackoffBase<<min(cur.RefreshFailures-1, 20), refreshBackoffMax)
			cur.RefreshBlockedUntil = s.cfg.Now().Add(wait).UTC()
		}
		cur.LastError = rerr.Error()
		prev := cur.Status + "/" + cur.Reason
		if status, reason, ok := Classify(rerr, p.Auth); ok && status != StatusConnected {
			cur.Status, cur.Reason, cur.ReasonDetail = status, reason, detail(reason, rerr)
		}
		if err := tx.UpdateConnection(ctx, cur); err != nil {
			return err
		}
		if now := cur.Status + "/" + cur.Reason; now != prev {
			changed = cur
			return tx.AddEvent(ctx, &store.Event{WorkspaceID: cur.WorkspaceID, ConnectionID: cur.ID, Kind: "connection.refresh_failed",
				Message: fmt.Sprintf("%s token refresh failed: %s", p.Name, rerr), Data: map[string]any{"from": prev, "to": now}})
		}
		return nil
	})
	if changed != nil {
		s.changed(ctx, changed)
	}
	return err
}

// changed tells OnChange about a stored status change.
func (s *Service) changed(ctx context.Context, c *store.Connection) {
	if s.cfg.OnChange != nil {
		s.cfg.OnChange(context.WithoutCancel(ctx), c)
	}
}

// grantExpiryKey holds, in Credentials.Extra, when the grant itself ends.
const grantExpiryKey = "grant_expires_at"

func grantOf(creds connector.Credentials, c *store.Connection) Grant {
	g := Grant{Expiry: creds.Expiry, CanRefresh: creds.RefreshToken != "" && c.RefreshFailures == 0}
	if v := creds.Extra[grantExpiryKey]; v != "" {
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			g.GrantExpiry = t
		}
	}
	return g
}

// number reads a JSON number that a token response may send as a string.
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case string:
		f, err := strconv.ParseFloat(n, 64)
		return f, err == nil
	}
	return 0, false
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
// the outcome.
func (s *Service) Probe(ctx context.Context, c *store.Connection) (*store.Connection, error) {
	return s.ProbeAhead(ctx, c, s.cfg.RefreshMargin)
}

// ProbeAhead is Probe that first renews an OAuth token expiring within
// refreshWithin, so that a token never lapses between two health sweeps. A
// good answer sets the connection connected with its yellow caution, if any,
// and heals a red status by itself (an outage that ended; syncs that waited
// for credentials which work again resume); a failure is classified.
// Probes do not count as use of the integration (last_activity_at).
func (s *Service) ProbeAhead(ctx context.Context, c *store.Connection, refreshWithin time.Duration) (*store.Connection, error) {
	if c.Status == StatusDisconnected || c.Status == StatusNotConnected {
		return c, nil
	}
	p, ok := s.cfg.Catalog.Get(c.Provider)
	if !ok || p.Auth == catalog.AuthNone {
		return c, nil
	}
	conn, ok := s.cfg.Connectors.Get(p.ID)
	if !ok {
		return nil, fmt.Errorf("probe %s: no connector for %q", c.ID, p.ID)
	}
	var acct connector.Account
	creds, perr := s.token(ctx, c.ID, "", refreshWithin)
	if perr == nil {
		acct, perr = conn.Identity(ctx, s.session(p, c, creds, sessionFixed))
	}
	if connector.ClassOf(perr) == connector.ClassUnauthorized {
		// The probe sends exactly the token it read, which identity calls may
		// also carry in the URL or body (HubSpot's token metadata): renew it
		// naming that token, so that a token another process renewed
		// meanwhile is used rather than renewed twice, and ask once more.
		switch fresh, err := s.token(ctx, c.ID, creds.AccessToken, refreshWithin); {
		case err != nil:
			perr = err
		case fresh.AccessToken != creds.AccessToken:
			creds = fresh
			acct, perr = conn.Identity(ctx, s.session(p, c, creds, sessionFixed))
		}
	}
	if perr != nil && ctx.Err() != nil {
		return nil, fmt.Errorf("probe %s: %w", c.ID, ctx.Err()) // shutting down: say nothing about the provider
	}
	var resumed []string
	var changed bool
	err := s.cfg.Store.InTx(ctx, func(tx *store.Tx) error {
		cur, err := tx.GetConnection(ctx, c.ID)
		if err != nil {
			return err
		}
		if cur.Status == StatusDisconnected || cur.Status == StatusNotConnected {
			c = cur // disconnected while the probe ran
			return nil
		}
		prev := cur.Status + "/" + cur.Reason
		waited := Red(cur.Status, cur.Reason) && authClass(cur.Reason)
		cur.LastCheckedAt = s.cfg.Now().UTC()
		switch {
		case perr == nil:
			if acct.Scopes != nil {
				cur.ScopesGranted = acct.Scopes
			}
			syncs, err := tx.ListSyncs(ctx, cur.ID)
			if err != nil {
				return err
			}
			cur.Status, cur.LastError = StatusConnected, ""
			cur.Reason, cur.ReasonDetail = Caution(cur, p, syncs, grantOf(creds, cur), s.cfg.Now())
			if waited {
				if resumed, err = tx.ResumeSyncs(ctx, cur.ID, PauseAuthFailed); err != nil {
					return err
				}
			}
			if err := s.noteAccount(ctx, tx, cur, acct); err != nil {
				return err
			}
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
			changed = true
			return tx.AddEvent(ctx, &store.Event{WorkspaceID: cur.WorkspaceID, ConnectionID: cur.ID, Kind: "connection.status_changed",
				Message: fmt.Sprintf("%s: %s → %s", p.Name, prev, now), Data: map[string]any{"from": prev, "to": now, "resumed_syncs": resumed}})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("probe %s: %w", c.ID, err)
	}
	if changed {
		s.changed(ctx, c)
	}
	if len(resumed) > 0 && s.cfg.AfterReconnect != nil {
		s.cfg.AfterReconnect(ctx, c, resumed)
	}
	return c, nil
}

// SyncFailed is told by the sync engine that a run met failure. It reports
// whether the failure is the connection's rather than the sync's:
//
//   - an outage turns the connection red (service_unavailable) once; it heals
//     by itself at the next good probe, and syncs keep their schedule;
//   - a missing permission (403) makes the connection yellow, naming the scope;
//   - an auth-class failure (expired, revoked, bad key, suspended) is recorded;
//     when two or more syncs of the connection met one within
//     SyncFailureWindow (or every sync, when it has only one), the connection
//     turns red once and those syncs wait for a reconnect (paused with
//     PauseAuthFailed); a sync failing after that simply joins them. A
//     successful reconnect resumes them (AfterReconnect gets their ids).
//
// Rate limits and record-level errors say nothing about the connection.
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
	if errors.Is(failure, ErrRefreshBlocked) && Red(c.Status, c.Reason) && authClass(c.Reason) {
		status, reason, ok = c.Status, c.Reason, true // the refresh that failed first already set the status
	}
	if !ok {
		return false, nil
	}
	now := s.cfg.Now()
	var changed *store.Connection
	connLevel := true
	terr := s.cfg.Store.InTx(ctx, func(tx *store.Tx) error {
		cur, err := tx.GetConnection(ctx, connID)
		if err != nil {
			return err
		}
		prev := cur.Status + "/" + cur.Reason
		data := map[string]any{"from": prev, "to": status + "/" + reason, "sync_id": syncID}
		switch {
		case status == StatusConnected: // a missing permission
			if Red(cur.Status, cur.Reason) || (cur.Reason == reason && cur.ReasonDetail == detail(reason, failure)) {
				return nil
			}
		case !authClass(reason): // an outage
			if cur.Status == status && cur.Reason == reason {
				return nil
			}
		default:
			if err := tx.RecordSyncFailure(ctx, connID, syncID, reason, now); err != nil {
				return err
			}
			if Red(cur.Status, cur.Reason) && authClass(cur.Reason) {
				return tx.PauseSync(ctx, syncID, PauseAuthFailed) // already shown on the connection: once, not once per sync
			}
			failing, err := s.failingSyncs(ctx, tx, cur, now)
			if err != nil {
				return err
			}
			if failing == nil {
				connLevel = false // one sync so far: the next probe or sync decides
				return nil
			}
			for _, id := range failing {
				if err := tx.PauseSync(ctx, id, PauseAuthFailed); err != nil {
					return err
				}
			}
			data["waiting_syncs"] = failing
		}
		cur.Status, cur.Reason, cur.ReasonDetail, cur.LastError = status, reason, detail(reason, failure), failure.Error()
		if err := tx.UpdateConnection(ctx, cur); err != nil {
			return err
		}
		changed = cur
		return tx.AddEvent(ctx, &store.Event{WorkspaceID: cur.WorkspaceID, ConnectionID: cur.ID, Kind: "connection.status_changed",
			Message: fmt.Sprintf("%s: %s → %s/%s (seen by sync %s)", p.Name, prev, status, reason, syncID), Data: data})
	})
	if terr != nil {
		return false, terr
	}
	if changed != nil {
		s.changed(ctx, changed)
	}
	return connLevel, nil
}

// failingSyncs returns the syncs that met an auth-class failure within the
// window (since the last connect at most) when they are enough to blame the
// connection: two or more, or every running sync when there are fewer. It
// returns nil otherwise.
func (s *Service) failingSyncs(ctx context.Context, tx *store.Tx, c *store.Connection, now time.Time) ([]string, error) {
	since := now.Add(-s.cfg.SyncFailureWindow)
	if c.ConnectedAt.After(since) {
		since = c.ConnectedAt
	}
	failing, err := tx.FailingSyncs(ctx, c.ID, since)
	if err != nil {
		return nil, err
	}
	syncs, err := tx.ListSyncs(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	active := 0
	for _, y := range syncs {
		if !y.Paused || y.PauseReason == PauseAuthFailed {
			active++
		}
	}
	if len(failing) >= min(2, max(active, 1)) {
		return failing, nil
	}
	return nil, nil
}
