package connection

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"patchbay/internal/catalog"
	"patchbay/internal/connector"
	"patchbay/internal/store"
)

// Statuses of a connection.
const (
	StatusConnected    = "connected"
	StatusNotConnected = "not_connected"
	StatusExpired      = "expired"
	StatusError        = "error"
	StatusDisconnected = "disconnected"
)

// Reasons qualify a status.
const (
	ReasonNone                 = ""
	ReasonExpiringSoon         = "expiring_soon"
	ReasonLimitedPermissions   = "limited_permissions"
	ReasonTokenExpired         = "token_expired"
	ReasonInvalidAPIKey        = "invalid_api_key"
	ReasonAuthorizationRevoked = "authorization_revoked"
	ReasonAccountSuspended     = "account_suspended"
	ReasonServiceUnavailable   = "service_unavailable"
	ReasonAccountMismatch      = "account_mismatch"
)

// Health colours.
const (
	HealthGreen  = "green"
	HealthYellow = "yellow"
	HealthRed    = "red"
	HealthGrey   = "grey"
)

// Health is the colour of a status and reason.
func Health(status, reason string) string {
	switch status {
	case StatusConnected:
		if reason == ReasonExpiringSoon || reason == ReasonLimitedPermissions {
			return HealthYellow
		}
		return HealthGreen
	case StatusExpired, StatusError:
		return HealthRed
	}
	return HealthGrey
}

// Explanation is what people read about a reason: its cause and the fix.
type Explanation struct {
	Cause string `json:"cause"`
	Fix   string `json:"fix"`
}

var explanations = map[string]Explanation{
	ReasonExpiringSoon:         {"The authorization expires soon and cannot be renewed automatically.", "Reconnect to renew it before syncs stop."},
	ReasonLimitedPermissions:   {"Fewer permissions were granted than Patchbay's syncs need.", "Reconnect and approve the missing permissions."},
	ReasonTokenExpired:         {"The access token expired and could not be refreshed.", "Re-connect to authorize Patchbay again."},
	ReasonInvalidAPIKey:        {"The provider refused the API key.", "Generate a new key at the provider and reconnect with it."},
	ReasonAuthorizationRevoked: {"The authorization was revoked at the provider.", "Disconnect and reconnect to grant access again."},
	ReasonAccountSuspended:     {"The provider account is suspended or the app was uninstalled.", "Restore the account at the provider, then reconnect."},
	ReasonServiceUnavailable:   {"The provider is not answering.", "Nothing to do: try again in a few minutes; Patchbay retries by itself."},
	ReasonAccountMismatch:      {"The reconnect signed in to a different account than the one the syncs use.", "Reconnect with the original account, or confirm the account change."},
}

// Explain returns the cause and fix of a reason (zero for none).
func Explain(reason string) Explanation { return explanations[reason] }

// Classify turns a provider failure into the status and reason a connection
// takes. It is the one place where failures become statuses: probes, token
// refreshes and syncs all go through it. ok is false when the failure says
// nothing new about the connection (a bad record, a 404, a rate limit — 429
// is never an error — or a refresh held back by the breaker, whose first
// failure already set the status).
//
// Revoked and expired grants both end in a refused refresh (HubSpot answers
// BAD_REFRESH_TOKEN / invalid_grant to both); doRefresh tells them apart and
// sets the class: a refresh refused right after the provider rejected an
// access token that was still within its lifetime means the grant was
// withdrawn (ClassRevoked → authorization_revoked); a refresh refused for a
// token that had aged out means the authorization expired (ClassUnauthorized
// → token_expired).
func Classify(err error, auth string) (status, reason string, ok bool) {
	var ce *connector.Error
	if !errors.As(err, &ce) || errors.Is(err, ErrRefreshBlocked) {
		return "", "", false
	}
	switch ce.Class {
	case connector.ClassUnauthorized:
		if auth == catalog.AuthAPIKey {
			return StatusError, ReasonInvalidAPIKey, true
		}
		return StatusExpired, ReasonTokenExpired, true
	case connector.ClassRevoked:
		return StatusError, ReasonAuthorizationRevoked, true
	case connector.ClassSuspended:
		return StatusError, ReasonAccountSuspended, true
	case connector.ClassForbidden:
		return StatusConnected, ReasonLimitedPermissions, true
	case connector.ClassUnavailable:
		if auth == catalog.AuthNone {
			// Nothing probes a connection without credentials (a webhook
			// destination), so nothing would turn it green again: the
			// outage stays on the run that met it.
			return "", "", false
		}
		return StatusError, ReasonServiceUnavailable, true
	}
	return "", "", false
}

// Red reports whether a status and reason need action (health red).
func Red(status, reason string) bool { return Health(status, reason) == HealthRed }

// authClass reports whether a reason means the credentials no longer work
// (as opposed to the provider not answering): syncs wait for a reconnect.
func authClass(reason string) bool {
	switch reason {
	case ReasonTokenExpired, ReasonInvalidAPIKey, ReasonAuthorizationRevoked, ReasonAccountSuspended:
		return true
	}
	return false
}

// ExpiringWithin is how close an expiry without a usable refresh path must be
// to show the expiring_soon caution.
const ExpiringWithin = 7 * 24 * time.Hour

// Grant is what Caution needs to know about a connection's credentials.
type Grant struct {
	// Expiry is when the access token (or key) stops working; zero if never.
	Expiry time.Time
	// GrantExpiry is when the grant itself (the refresh token) ends; zero if never.
	GrantExpiry time.Time
	// CanRefresh says whether a refresh token exists and the last refresh did not fail.
	CanRefresh bool
}

// Caution returns the yellow reason of a working connection, or ReasonNone:
// expiring_soon when the token or grant ends within ExpiringWithin without a
// usable refresh path, limited_permissions when fewer scopes are granted than
// the catalog's typical set, the scopes asked for, or what a configured sync
// needs (inbound: the object's read scope; outbound: its write scope).
// expiring_soon comes first: it stops everything when it arrives.
func Caution(c *store.Connection, p *catalog.Provider, syncs []*store.Sync, g Grant, now time.Time) (reason, detail string) {
	horizon := now.Add(ExpiringWithin)
	switch {
	case !g.GrantExpiry.IsZero() && g.GrantExpiry.Before(horizon):
		return ReasonExpiringSoon, "the authorization ends on " + g.GrantExpiry.UTC().Format(time.DateOnly) + " and cannot be renewed automatically"
	case !g.Expiry.IsZero() && !g.CanRefresh && g.Expiry.Before(horizon):
		return ReasonExpiringSoon, "the access token expires on " + g.Expiry.UTC().Format(time.DateOnly) + " and there is no usable refresh token"
	}
	if p == nil || p.Auth != catalog.AuthOAuth2 {
		return ReasonNone, ""
	}
	var missing []string
	for _, need := range SyncScopes(p, syncs) {
		if !slices.Contains(c.ScopesGranted, need) {
			missing = append(missing, need+" (needed by a sync)")
		}
	}
	for _, sc := range p.Scopes {
		if slices.Contains(c.ScopesGranted, sc.Name) || slices.ContainsFunc(missing, func(m string) bool { return strings.HasPrefix(m, sc.Name+" ") }) {
			continue
		}
		switch {
		case sc.Required || slices.Contains(c.ScopesRequested, sc.Name):
			missing = append(missing, sc.Name+" (requested)")
		case sc.Typical:
			missing = append(missing, sc.Name+" (typical)")
		}
	}
	if len(missing) > 0 {
		return ReasonLimitedPermissions, "not granted: " + strings.Join(missing, ", ")
	}
	return ReasonNone, ""
}

// SyncScopes lists the scopes the configured syncs of a connection need:
// the object's read scope for inbound syncs, its write scope for outbound ones.
func SyncScopes(p *catalog.Provider, syncs []*store.Sync) []string {
	var out []string
	for _, y := range syncs {
		o, ok := p.Object(y.Object)
		if !ok {
			continue
		}
		need := o.ReadScope
		if y.Direction == "outbound" {
			need = o.WriteScope
		}
		if need != "" && !slices.Contains(out, need) {
			out = append(out, need)
		}
	}
	return out
}

// Detail is the one-line text stored with a reason.
func detail(reason string, err error) string {
	var ce *connector.Error
	if errors.As(err, &ce) && ce.Class == connector.ClassForbidden && ce.Scope != "" {
		return fmt.Sprintf("missing permission %s", ce.Scope)
	}
	if e := Explain(reason); e.Cause != "" {
		return e.Cause
	}
	return ""
}

// NotUsedAfter is how long without activity makes an integration "not used recently".
const NotUsedAfter = 30 * 24 * time.Hour

// NotUsedRecently reports whether a connection saw no successful provider
// call (syncs, enrichment; not health probes) for NotUsedAfter.
func NotUsedRecently(c *store.Connection, now time.Time) bool {
	last := c.LastActivityAt
	if last.IsZero() {
		last = c.ConnectedAt
	}
	return c.Status != StatusNotConnected && !last.IsZero() && now.Sub(last) > NotUsedAfter
}
