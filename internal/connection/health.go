package connection

import (
	"errors"
	"fmt"

	"patchbay/internal/catalog"
	"patchbay/internal/connector"
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
// takes. ok is false when the failure says nothing about the connection
// (a bad record, a 404, a rate limit).
func Classify(err error, auth string) (status, reason string, ok bool) {
	var ce *connector.Error
	if !errors.As(err, &ce) {
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
		return StatusError, ReasonServiceUnavailable, true
	}
	return "", "", false
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
