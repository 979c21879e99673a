// Package connection owns the life of a connection: connect (OAuth 2 or API
// key), the OAuth callback, token refresh, reconnect, disconnect and probes.
package connection

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"

	"patchbay/internal/catalog"
	"patchbay/internal/connector"
	"patchbay/internal/netguard"
	"patchbay/internal/store"
	"patchbay/internal/transport"
	"patchbay/internal/vault"
)

// ClientCredentials are Patchbay's OAuth client registration at a provider.
type ClientCredentials struct {
	ID     string
	Secret string
}

// Config holds the service's dependencies and settings.
type Config struct {
	Store      *store.Store
	Vault      *vault.Vault
	Catalog    *catalog.Catalog
	Connectors *connector.Registry
	// Clients are the OAuth client registrations, by provider id.
	Clients map[string]ClientCredentials
	// RedirectURL is Patchbay's OAuth callback, e.g. https://patchbay.example.com/oauth/callback.
	RedirectURL string
	// HTTP is the base client for provider calls (timeouts, dial guards); default has a 30 s timeout.
	HTTP   *http.Client
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
	// RefreshMargin: tokens expiring within it are refreshed before use. Default 5 min.
	RefreshMargin time.Duration
	// StateTTL is how long an authorize link stays good. Default 10 min.
	StateTTL time.Duration
	// OnProviderCall is told about every provider response (metrics).
	OnProviderCall func(provider string, status int)
	// AfterReconnect is told which syncs a successful reconnect resumed (the
	// sync engine queues a catch-up run for each).
	AfterReconnect func(ctx context.Context, c *store.Connection, resumed []string)
	// OnChange is told, after the change is stored, that a connection's
	// status or reason changed (notifications). It must not block for long.
	OnChange func(ctx context.Context, c *store.Connection)
	// SyncFailureWindow: when syncs of one connection fail with auth-class
	// errors within it (two or more syncs, or every sync when there is one),
	// the connection turns red. Default 15 min.
	SyncFailureWindow time.Duration
}

// Service runs connection lifecycles.
type Service struct {
	cfg     Config
	refresh singleflight.Group
	budgets *transport.Budgets
}

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.HTTP == nil {
		// Keep enough idle connections per provider host for a health sweep's
		// concurrent probes; the default two per host would reopen a TCP (and
		// TLS) connection for nearly every call.
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 64
		cfg.HTTP = &http.Client{Timeout: 30 * time.Second, Transport: tr}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.RefreshMargin == 0 {
		cfg.RefreshMargin = 5 * time.Minute
	}
	if cfg.StateTTL == 0 {
		cfg.StateTTL = 10 * time.Minute
	}
	if cfg.SyncFailureWindow == 0 {
		cfg.SyncFailureWindow = 15 * time.Minute
	}
	budgets := transport.NewBudgets()
	if cfg.Store != nil {
		if log := cfg.Store.RateLog(); log != nil {
			// Several processes on one PostgreSQL: one budget per account
			// across all of them.
			budgets = transport.NewSharedBudgets(log)
		}
	}
	return &Service{cfg: cfg, budgets: budgets}
}

// RefreshMargin is how long before expiry a token is refreshed.
func (s *Service) RefreshMargin() time.Duration { return s.cfg.RefreshMargin }

// Catalog returns the catalog the service uses (rebased to fakes in demo).
func (s *Service) Catalog() *catalog.Catalog { return s.cfg.Catalog }

// ConnectRequest is what a user gives to connect a provider.
type ConnectRequest struct {
	Provider string
	Config   map[string]string
	Scopes   []string
	APIKey   string
	Notes    string
	Actor    string // who asked (token or user id), for the audit log
}

// Connect starts a connection. For OAuth 2 it returns the authorize URL the
// user must visit; for API keys it validates the key with the provider and
// stores it, or stores nothing and says why.
func (s *Service) Connect(ctx context.Context, ws *store.Workspace, req ConnectRequest) (*store.Connection, string, error) {
	c, out, err := s.Establish(ctx, ws, req)
	return c, out.AuthorizeURL, err
}

// Established is what starting a connection has to tell the user, once.
type Established struct {
	// AuthorizeURL is the consent page to visit (OAuth 2).
	AuthorizeURL string
	// SigningSecret is the secret a destination's receiver verifies
	// Patchbay's signatures with (catalog signing_secret). It is stored
	// encrypted and never returned again.
	SigningSecret string
}

// Establish is Connect that also returns a generated signing secret.
func (s *Service) Establish(ctx context.Context, ws *store.Workspace, req ConnectRequest) (*store.Connection, Established, error) {
	p, ok := s.cfg.Catalog.Get(req.Provider)
	if !ok {
		ids := make([]string, 0)
		for _, q := range s.cfg.Catalog.All() {
			ids = append(ids, q.ID)
		}
		return nil, Established{}, invalid("provider", "unknown provider %q; choose one of %s (GET /api/v1/providers lists them)", req.Provider, strings.Join(ids, ", "))
	}
	if p.Tier == catalog.TierPremium && ws.Plan != catalog.TierPremium {
		return nil, Established{}, &PlanError{Provider: p.Name, Plan: ws.Plan, Needed: catalog.TierPremium}
	}
	req.Config = p.NormalizeConfig(req.Config)
	if errs := p.ValidateConfig(req.Config); len(errs) > 0 {
		return nil, Established{}, &ValidationError{Fields: errs}
	}
	c := &store.Connection{WorkspaceID: ws.ID, Provider: p.ID, Status: StatusNotConnected, Config: req.Config, Notes: req.Notes}
	switch p.Auth {
	case catalog.AuthOAuth2:
		scopes, err := s.scopes(p, req.Scopes)
		if err != nil {
			return nil, Established{}, err
		}
		c.ScopesRequested = scopes
		c.Endpoint = p.Resolve(req.Config).URLs.API
		var url string
		err = s.cfg.Store.InTx(ctx, func(tx *store.Tx) error {
			if err := tx.CreateConnection(ctx, c); err != nil {
				return err
			}
			url, err = s.authorize(ctx, tx, p, c, "connect", scopes, false, req.Actor)
			return err
		})
		if err != nil {
			return nil, Established{}, fmt.Errorf("connect %s: %w", p.ID, err)
		}
		return c, Established{AuthorizeURL: url}, nil
	case catalog.AuthAPIKey:
		if strings.TrimSpace(req.APIKey) == "" {
			return nil, Established{}, invalid("api_key", "%s connects with an API key; put it in api_key", p.Name)
		}
		c.Endpoint = strings.TrimSuffix(req.Config["endpoint_url"], "/")
		if c.Endpoint == "" {
			c.Endpoint = p.URLs.API
		}
		c.ID = store.NewID("con")
		creds := connector.Credentials{APIKey: strings.TrimSpace(req.APIKey)}
		acct, err := s.probe(ctx, p, c, creds)
		if be := netguard.AsBlocked(err); be != nil {
			return nil, Established{}, invalid("config.endpoint_url", "%s: use the provider's public address", be.Error())
		}
		if err != nil {
			return nil, Established{}, &ProviderError{Op: "validate API key with " + p.Name, Err: err}
		}
		now := s.cfg.Now().UTC()
		s.markConnected(c, acct, now)
		err = s.cfg.Store.InTx(ctx, func(tx *store.Tx) error {
			if err := tx.CreateConnection(ctx, c); err != nil {
				return err
			}
			if err := s.saveCreds(ctx, tx, c.ID, creds); err != nil {
				return err
			}
			return tx.AddEvent(ctx, &store.Event{WorkspaceID: ws.ID, ConnectionID: c.ID, Kind: "connection.connected",
				Message: fmt.Sprintf("%s connected with an API key (account %s)", p.Name, acct.ID)})
		})
		if err != nil {
			return nil, Established{}, fmt.Errorf("connect %s: %w", p.ID, err)
		}
		return c, Established{}, nil
	default:
		c.Endpoint = req.Config["url"]
		c.Status = StatusConnected
		c.ConnectedAt = s.cfg.Now().UTC()
		var out Established
		err := s.cfg.Store.InTx(ctx, func(tx *store.Tx) error {
			if err := tx.CreateConnection(ctx, c); err != nil {
				return err
			}
			if p.SigningSecret {
				out.SigningSecret = "pbw_" + rand.Text()
				creds := connector.Credentials{Extra: map[string]string{connector.SigningSecretKey: out.SigningSecret}}
				if err := s.saveCreds(ctx, tx, c.ID, creds); err != nil {
					return err
				}
			}
			return tx.AddEvent(ctx, &store.Event{WorkspaceID: ws.ID, ConnectionID: c.ID, Kind: "connection.connected", Message: p.Name + " connected"})
		})
		if err != nil {
			return nil, Established{}, fmt.Errorf("connect %s: %w", p.ID, err)
		}
		return c, out, nil
	}
}

// scopes checks requested scopes against the catalog and adds required ones;
// none requested means the catalog's default set.
func (s *Service) scopes(p *catalog.Provider, requested []string) ([]string, error) {
	if len(requested) == 0 {
		return p.DefaultScopes(), nil
	}
	var out []string
	for _, sc := range p.Scopes {
		if sc.Required {
			out = append(out, sc.Name)
		}
	}
	for _, r := range requested {
		if _, ok := p.Scope(r); !ok {
			return nil, invalid("scopes", "%s has no scope %q; GET /api/v1/providers lists its scopes", p.Name, r)
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out, nil
}

func (s *Service) oauthConfig(p *catalog.Provider, scopes []string) *oauth2.Config {
	style := oauth2.AuthStyleInParams
	if p.TokenAuth == "header" {
		style = oauth2.AuthStyleInHeader
	}
	cl := s.cfg.Clients[p.ID]
	if p.ScopeSeparator != "" && len(scopes) > 0 {
		// x/oauth2 joins scopes with spaces; one pre-joined entry keeps the provider's separator.
		scopes = []string{strings.Join(scopes, p.ScopeSeparator)}
	}
	return &oauth2.Config{
		ClientID:     cl.ID,
		ClientSecret: cl.Secret,
		Endpoint:     oauth2.Endpoint{AuthURL: p.URLs.Authorize, TokenURL: p.URLs.Token, AuthStyle: style},
		RedirectURL:  s.cfg.RedirectURL,
		Scopes:       scopes,
	}
}

// authorize records a single-use state with its PKCE verifier and returns the authorize URL.
func (s *Service) authorize(ctx context.Context, tx *store.Tx, p *catalog.Provider, c *store.Connection, purpose string, scopes []string, allowChange bool, actor string) (string, error) {
	p = p.Resolve(c.Config)
	if s.cfg.Clients[p.ID].ID == "" {
		return "", invalid("provider", "%s is not configured on this server: set PATCHBAY_%s_CLIENT_ID and PATCHBAY_%s_CLIENT_SECRET", p.Name, strings.ToUpper(p.ID), strings.ToUpper(p.ID))
	}
	state := randomToken()
	verifier := oauth2.GenerateVerifier()
	sealed, err := s.cfg.Vault.Seal([]byte(verifier), []byte(c.ID))
	if err != nil {
		return "", err
	}
	st := &store.OAuthState{Hash: hashToken(state), WorkspaceID: c.WorkspaceID, ConnectionID: c.ID, Provider: p.ID, Purpose: purpose,
		Verifier: sealed, Scopes: scopes, AllowAccountChange: allowChange, CreatedBy: actor, ExpiresAt: s.cfg.Now().Add(s.cfg.StateTTL)}
	if err := tx.CreateState(ctx, st); err != nil {
		return "", err
	}
	var opts []oauth2.AuthCodeOption
	if p.PKCE {
		opts = append(opts, oauth2.S256ChallengeOption(verifier))
	}
	return s.oauthConfig(p, scopes).AuthCodeURL(state, opts...), nil
}

// CallbackResult says what a callback did.
type CallbackResult struct {
	Connection *store.Connection
	Purpose    string
}

// Callback finishes a connect or reconnect from the provider's redirect,
// without knowing who the browser is signed in as.
func (s *Service) Callback(ctx context.Context, state, code, providerErr string) (*CallbackResult, error) {
	return s.Complete(ctx, CallbackRequest{Query: url.Values{"state": {state}, "code": {code}, "error": {providerErr}}})
}

// Complete finishes a connect or reconnect from the whole query of the
// provider's redirect (state, code or error, and whatever the provider signs,
// which a connector implementing connector.CallbackVerifier checks). The state
// is spent whatever happens next: a replay is refused.
func (s *Service) Complete(ctx context.Context, req CallbackRequest) (*CallbackResult, error) {
	query := req.Query
	state, code, providerErr := query.Get("state"), query.Get("code"), query.Get("error")
	if state == "" {
		return nil, ErrInvalidState
	}
	var st *store.OAuthState
	err := s.cfg.Store.InTx(ctx, func(tx *store.Tx) error {
		var err error
		st, err = tx.TakeState(ctx, hashToken(state), s.cfg.Now())
		return err
	})
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) {
		return nil, ErrInvalidState
	}
	if err != nil {
		return nil, fmt.Errorf("callback: %w", err)
	}
	if req.Actor != "" && st.CreatedBy != "" && req.Actor != st.CreatedBy {
		s.cfg.Logger.WarnContext(ctx, "oauth callback in another person's session refused", "connection", st.ConnectionID, "started_by", st.CreatedBy, "session", req.Actor)
		return nil, ErrStateActor
	}
	c, err := s.cfg.Store.ConnectionByID(ctx, st.ConnectionID)
	if err != nil {
		return nil, fmt.Errorf("callback: %w", err)
	}
	p, ok := s.cfg.Catalog.Get(st.Provider)
	if !ok {
		return nil, fmt.Errorf("callback: provider %q left the catalog", st.Provider)
	}
	p = p.Resolve(c.Config)
	if providerErr != "" {
		s.event(ctx, c, "connection.consent_denied", fmt.Sprintf("%s consent was not given (%s)", p.Name, providerErr))
		return &CallbackResult{Connection: c, Purpose: st.Purpose}, ErrConsentDenied
	}
	if code == "" {
		return nil, invalid("code", "the provider's redirect carried no code")
	}
	if cv, ok := s.connector(p.ID).(connector.CallbackVerifier); ok {
		if err := cv.VerifyCallback(query, s.cfg.Clients[p.ID].Secret, c.Config); err != nil {
			s.event(ctx, c, "connection.callback_refused", fmt.Sprintf("%s redirect refused: %s", p.Name, err))
			return &CallbackResult{Connection: c, Purpose: st.Purpose}, fmt.Errorf("%w: %w", ErrCallbackSignature, err)
		}
	}
	verifier, err := s.cfg.Vault.Open(st.Verifier, []byte(c.ID))
	if err != nil {
		return nil, fmt.Errorf("callback: %w", err)
	}
	var opts []oauth2.AuthCodeOption
	if p.PKCE {
		opts = append(opts, oauth2.VerifierOption(string(verifier)))
	}
	tok, err := s.oauthConfig(p, st.Scopes).Exchange(s.tokenCtx(ctx), code, opts...)
	if err != nil {
		return nil, &ProviderError{Op: "exchange the authorization code with " + p.Name, Err: tokenError(err)}
	}
	creds := credsFromToken(tok, connector.Credentials{})
	acct, err := s.probe(ctx, p, c, creds)
	if err != nil {
		return nil, &ProviderError{Op: "identify the " + p.Name + " account", Err: err}
	}
	for _, f := range p.ConfigFields {
		if want := c.Config[f.Name]; f.Account && want != "" && !strings.EqualFold(want, acct.ID) {
			s.revokeCreds(ctx, p, c, creds)
			return nil, &AccountMismatchError{Was: want, Now: acct.ID}
		}
	}
	if c.AccountID != "" && c.AccountID != acct.ID && !st.AllowAccountChange {
		s.revokeCreds(ctx, p, c, creds)
		s.event(ctx, c, "connection.account_mismatch", fmt.Sprintf("reconnect refused: signed in to %s account %s, the connection uses %s", p.Name, acct.ID, c.AccountID))
		return &CallbackResult{Connection: c, Purpose: st.Purpose}, &AccountMismatchError{Was: c.AccountID, Now: acct.ID,
			WasLabel: accountLabel(c.AccountID, c.AccountName, c.AccountEmail), NowLabel: accountLabel(acct.ID, acct.Name, acct.Email)}
	}
	granted := grantedScopes(tok, acct, st.Scopes)
	var resumed []string
	err = s.cfg.Store.InTx(ctx, func(tx *store.Tx) error {
		cur, err := tx.GetConnection(ctx, c.ID)
		if err != nil {
			return err
		}
		if st.Purpose == "connect" {
			// Connecting again to an account that was disconnected earlier
			// brings back that connection with its syncs and history.
			if prev, err := tx.FindDisconnected(ctx, cur.WorkspaceID, p.ID, acct.ID, cur.ID); err == nil {
				if err := tx.DeleteConnection(ctx, cur.ID); err != nil {
					return err
				}
				prev.Notes = strings.TrimSpace(prev.Notes + " " + cur.Notes)
				cur = prev
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		cur.ScopesAdded, cur.ScopesDropped = diff(granted, cur.ScopesGranted), diff(cur.ScopesGranted, granted)
		if cur.ScopesGranted == nil {
			cur.ScopesAdded, cur.ScopesDropped = nil, nil
		}
		cur.ScopesRequested, cur.ScopesGranted = st.Scopes, granted
		s.markConnected(cur, acct, s.cfg.Now().UTC())
		cur.ExpiresAt = creds.Expiry
		syncs, err := tx.ListSyncs(ctx, cur.ID)
		if err != nil {
			return err
		}
		cur.Endpoint = apiBase(p, cur, creds)
		cur.Reason, cur.ReasonDetail = Caution(cur, p, syncs, grantOf(creds, cur), s.cfg.Now())
		if err := s.noteAccount(ctx, tx, cur, acct); err != nil {
			return err
		}
		if err := tx.UpdateConnection(ctx, cur); err != nil {
			return err
		}
		if err := s.saveCreds(ctx, tx, cur.ID, creds); err != nil {
			return err
		}
		resumed, err = tx.ResumeSyncs(ctx, cur.ID, PauseDisconnected, PauseAuthFailed)
		if err != nil {
			return err
		}
		kind, verb := "connection.connected", "connected"
		if st.Purpose == "reconnect" || cur.ID != c.ID {
			kind, verb = "connection.reconnected", "reconnected"
		}
		c = cur
		return tx.AddEvent(ctx, &store.Event{WorkspaceID: cur.WorkspaceID, ConnectionID: cur.ID, Kind: kind,
			Message: fmt.Sprintf("%s %s (account %s)", p.Name, verb, acct.ID),
			Data:    map[string]any{"scopes_added": cur.ScopesAdded, "scopes_dropped": cur.ScopesDropped, "resumed_syncs": resumed}})
	})
	if err != nil {
		return nil, fmt.Errorf("callback: save connection: %w", err)
	}
	s.changed(ctx, c)
	if len(resumed) > 0 && s.cfg.AfterReconnect != nil {
		s.cfg.AfterReconnect(ctx, c, resumed)
	}
	return &CallbackResult{Connection: c, Purpose: st.Purpose}, nil
}

// noteAccount records what an identity call said beyond who the account is:
// access narrower than the connection's settings need (limited_permissions
// with the provider's words on how to fix it) and the request quota.
func (s *Service) noteAccount(ctx context.Context, tx *store.Tx, c *store.Connection, acct connector.Account) error {
	if acct.Limited != "" {
		c.Status, c.Reason, c.ReasonDetail = StatusConnected, ReasonLimitedPermissions, acct.Limited
	}
	if u := acct.Usage; u != nil {
		return tx.SaveUsage(ctx, store.Usage{ConnectionID: c.ID, Used: u.Used, Limit: u.Limit, Period: u.Period, ObservedAt: s.cfg.Now()})
	}
	return nil
}

// Pause reasons set by the connection lifecycle.
const (
	PauseDisconnected = "disconnected"
	PauseAuthFailed   = "auth_failed"
	PauseUser         = "user"
)

func (s *Service) markConnected(c *store.Connection, acct connector.Account, now time.Time) {
	c.Status, c.Reason, c.ReasonDetail, c.LastError = StatusConnected, ReasonNone, "", ""
	c.AccountID, c.AccountName, c.AccountEmail = acct.ID, acct.Name, acct.Email
	if acct.Endpoint != "" {
		c.Endpoint = acct.Endpoint
	}
	c.ConnectedAt, c.LastActivityAt, c.LastCheckedAt = now, now, now
	c.RefreshFailures, c.RefreshBlockedUntil = 0, time.Time{}
}

// ReconnectRequest re-authorizes an existing connection.
type ReconnectRequest struct {
	Scopes             []string
	APIKey             string
	AllowAccountChange bool
	Actor              string
}

// Reconnect starts a re-authorization. OAuth 2 returns an authorize URL that
// asks again for every scope requested before (including those unticked last
// time) plus any new ones; API keys are validated and replaced at once.
func (s *Service) Reconnect(ctx context.Context, ws *store.Workspace, id string, req ReconnectRequest) (*store.Connection, string, error) {
	c, err := s.cfg.Store.GetConnection(ctx, ws.ID, id)
	if err != nil {
		return nil, "", err
	}
	p, ok := s.cfg.Catalog.Get(c.Provider)
	if !ok {
		return nil, "", fmt.Errorf("reconnect: provider %q left the catalog", c.Provider)
	}
	switch p.Auth {
	case catalog.AuthOAuth2:
		scopes := req.Scopes
		if len(scopes) == 0 {
			scopes = union(c.ScopesRequested, p.DefaultScopes())
		}
		scopes, err := s.scopes(p, scopes)
		if err != nil {
			return nil, "", err
		}
		var url string
		err = s.cfg.Store.InTx(ctx, func(tx *store.Tx) error {
			url, err = s.authorize(ctx, tx, p, c, "reconnect", scopes, req.AllowAccountChange, req.Actor)
			return err
		})
		return c, url, err
	case catalog.AuthAPIKey:
		if strings.TrimSpace(req.APIKey) == "" {
			return nil, "", invalid("api_key", "reconnecting %s needs the new API key in api_key", p.Name)
		}
		creds := connector.Credentials{APIKey: strings.TrimSpace(req.APIKey)}
		acct, err := s.probe(ctx, p, c, creds)
		if err != nil {
			return nil, "", &ProviderError{Op: "validate API key with " + p.Name, Err: err}
		}
		if c.AccountID != "" && c.AccountID != acct.ID && !req.AllowAccountChange {
			return nil, "", &AccountMismatchError{Was: c.AccountID, Now: acct.ID,
				WasLabel: accountLabel(c.AccountID, c.AccountName, c.AccountEmail), NowLabel: accountLabel(acct.ID, acct.Name, acct.Email)}
		}
		var resumed []string
		err = s.cfg.Store.InTx(ctx, func(tx *store.Tx) error {
			s.markConnected(c, acct, s.cfg.Now().UTC())
			if err := tx.UpdateConnection(ctx, c); err != nil {
				return err
			}
			if err := s.saveCreds(ctx, tx, c.ID, creds); err != nil {
				return err
			}
			if resumed, err = tx.ResumeSyncs(ctx, c.ID, PauseDisconnected, PauseAuthFailed); err != nil {
				return err
			}
			return tx.AddEvent(ctx, &store.Event{WorkspaceID: c.WorkspaceID, ConnectionID: c.ID, Kind: "connection.reconnected",
				Message: fmt.Sprintf("%s reconnected with a new API key (account %s)", p.Name, acct.ID)})
		})
		if err != nil {
			return nil, "", fmt.Errorf("reconnect %s: %w", c.ID, err)
		}
		s.changed(ctx, c)
		if len(resumed) > 0 && s.cfg.AfterReconnect != nil {
			s.cfg.AfterReconnect(ctx, c, resumed)
		}
		return c, "", nil
	}
	return c, "", invalid("provider", "%s has no credentials to renew", p.Name)
}

// Disconnect revokes the grant at the provider where it can, deletes the
// stored credentials for good, pauses the syncs and keeps everything else.
func (s *Service) Disconnect(ctx context.Context, ws *store.Workspace, id, actor string) (*store.Connection, error) {
	c, err := s.cfg.Store.GetConnection(ctx, ws.ID, id)
	if err != nil {
		return nil, err
	}
	p, _ := s.cfg.Catalog.Get(c.Provider)
	revoked := "no credentials held"
	if creds, err := s.loadCreds(ctx, c.ID); err == nil && p != nil {
		// Change subscriptions go first: they need the grant.
		s.unsubscribeAll(ctx, p, c, creds)
		revoked = s.revokeCreds(ctx, p, c, creds)
	}
	err = s.cfg.Store.InTx(ctx, func(tx *store.Tx) error {
		cur, err := tx.GetConnection(ctx, c.ID)
		if err != nil {
			return err
		}
		if err := tx.DeleteCredential(ctx, c.ID); err != nil {
			return err
		}
		cur.Status, cur.Reason, cur.ReasonDetail, cur.ExpiresAt = StatusDisconnected, ReasonNone, "", time.Time{}
		cur.RefreshFailures, cur.RefreshBlockedUntil = 0, time.Time{}
		if err := tx.UpdateConnection(ctx, cur); err != nil {
			return err
		}
		if err := tx.PauseSyncs(ctx, c.ID, PauseDisconnected); err != nil {
			return err
		}
		c = cur
		return tx.AddEvent(ctx, &store.Event{WorkspaceID: c.WorkspaceID, ConnectionID: c.ID, Kind: "connection.disconnected",
			Message: fmt.Sprintf("%s disconnected by %s: credentials deleted (%s), syncs paused, data kept", c.Provider, actor, revoked)})
	})
	if err != nil {
		return nil, fmt.Errorf("disconnect %s: %w", id, err)
	}
	if err := s.cfg.Store.Checkpoint(ctx); err != nil {
		s.cfg.Logger.Warn("checkpoint after disconnect", "connection", id, "err", err)
	}
	s.changed(ctx, c)
	return c, nil
}

// revokeCreds asks the provider to revoke a grant and says what happened.
func (s *Service) revokeCreds(ctx context.Context, p *catalog.Provider, c *store.Connection, creds connector.Credentials) string {
	conn, ok := s.cfg.Connectors.Get(p.ID)
	if !ok {
		return "no connector"
	}
	rv, ok := conn.(connector.Revoker)
	if !ok {
		return "the provider offers no revocation"
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := rv.Revoke(ctx, s.session(p, c, creds, sessionFixed)); err != nil {
		s.cfg.Logger.Warn("revoke at provider failed", "connection", c.ID, "provider", p.ID, "err", err)
		return "revocation at the provider failed: " + err.Error()
	}
	return "revoked at the provider"
}

func (s *Service) event(ctx context.Context, c *store.Connection, kind, msg string) {
	if err := s.cfg.Store.AddEvent(ctx, &store.Event{WorkspaceID: c.WorkspaceID, ConnectionID: c.ID, Kind: kind, Message: msg}); err != nil {
		s.cfg.Logger.Error("audit log", "kind", kind, "err", err)
	}
}

func (s *Service) saveCreds(ctx context.Context, tx *store.Tx, connID string, creds connector.Credentials) error {
	plain, err := json.Marshal(creds)
	if err != nil {
		return err
	}
	ct, err := s.cfg.Vault.Seal(plain, []byte(connID))
	if err != nil {
		return err
	}
	return tx.SaveCredential(ctx, connID, store.Credential{KeyID: s.cfg.Vault.CurrentKeyID(), Ciphertext: ct})
}

func (s *Service) openCreds(connID string, cr store.Credential) (connector.Credentials, error) {
	plain, err := s.cfg.Vault.Open(cr.Ciphertext, []byte(connID))
	if err != nil {
		return connector.Credentials{}, fmt.Errorf("credentials of %s: %w", connID, err)
	}
	var creds connector.Credentials
	if err := json.Unmarshal(plain, &creds); err != nil {
		return connector.Credentials{}, fmt.Errorf("credentials of %s: %w", connID, err)
	}
	return creds, nil
}

func (s *Service) loadCreds(ctx context.Context, connID string) (connector.Credentials, error) {
	cr, err := s.cfg.Store.Credential(ctx, connID)
	if errors.Is(err, store.ErrNotFound) {
		return connector.Credentials{}, ErrNoCredentials
	}
	if err != nil {
		return connector.Credentials{}, err
	}
	return s.openCreds(connID, cr)
}

func (s *Service) tokenCtx(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, s.cfg.HTTP)
}

func credsFromToken(tok *oauth2.Token, prev connector.Credentials) connector.Credentials {
	c := connector.Credentials{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, Expiry: tok.Expiry.UTC(), Extra: prev.Extra}
	if c.RefreshToken == "" {
		c.RefreshToken = prev.RefreshToken // providers that do not rotate send none back
	}
	// A grant that ends (refresh_token_expires_in, as some providers send)
	// cannot be renewed past that day; keep it for the expiring_soon caution.
	if secs, ok := number(tok.Extra("refresh_token_expires_in")); ok && secs > 0 {
		if c.Extra == nil {
			c.Extra = map[string]string{}
		}
		c.Extra[grantExpiryKey] = time.Now().Add(time.Duration(secs) * time.Second).UTC().Format(time.RFC3339)
	}
	for _, k := range []string{"instance_url", "id", "hub_id", "shop"} {
		if v, ok := tok.Extra(k).(string); ok && v != "" {
			if c.Extra == nil {
				c.Extra = map[string]string{}
			}
			c.Extra[k] = v
		}
	}
	return c
}

func grantedScopes(tok *oauth2.Token, acct connector.Account, requested []string) []string {
	if s, ok := tok.Extra("scope").(string); ok && s != "" {
		return strings.Fields(strings.ReplaceAll(s, ",", " "))
	}
	if acct.Scopes != nil {
		return acct.Scopes
	}
	return requested
}

// tokenError classifies a failed token-endpoint call.
func tokenError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		class := connector.ClassRevoked
		switch {
		case status >= 500:
			class = connector.ClassUnavailable
		case status == 429:
			class = connector.ClassRateLimited
		case re.ErrorCode == "invalid_client" || re.ErrorCode == "unauthorized_client":
			class = connector.ClassInvalid
		}
		msg := re.ErrorDescription
		if msg == "" {
			msg = "the provider refused the grant"
		}
		return &connector.Error{Class: class, Status: status, Code: re.ErrorCode, Message: msg}
	}
	var ce *connector.Error
	if errors.As(err, &ce) {
		return ce
	}
	return &connector.Error{Class: connector.ClassUnavailable, Message: "token endpoint unreachable", Err: err}
}

func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashToken(v string) string {
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:])
}

// HashToken is the stored form of an API token or state value.
func HashToken(v string) string { return hashToken(v) }

func diff(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, x := range b {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}
