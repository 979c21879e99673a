package connection

import (
	"errors"
	"fmt"
	"strings"

	"patchbay/internal/catalog"
	"patchbay/internal/connector"
)

// ValidationError lists what is wrong with a request, field by field.
type ValidationError struct {
	Fields []catalog.FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return "invalid request: " + strings.Join(parts, "; ")
}

func invalid(field, format string, args ...any) *ValidationError {
	return &ValidationError{Fields: []catalog.FieldError{{Field: field, Message: fmt.Sprintf(format, args...)}}}
}

// PlanError says the workspace's plan does not include a provider.
type PlanError struct {
	Provider string
	Plan     string
	Needed   string
}

func (e *PlanError) Error() string {
	return fmt.Sprintf("%s is a %s integration and this workspace is on the %s plan; upgrade to the %s plan, or use the webhook bridge (a table's inbound webhook URL) to bring its data in without a direct connection",
		e.Provider, e.Needed, e.Plan, e.Needed)
}

// AccountMismatchError is returned when a reconnect signs in to another account.
type AccountMismatchError struct {
	Was, Now string // account ids
	// WasLabel and NowLabel name the accounts for people (name and e-mail
	// where the provider gives them); the ids when empty.
	WasLabel, NowLabel string
}

func (e *AccountMismatchError) Error() string {
	was, now := e.WasLabel, e.NowLabel
	if was == "" {
		was = e.Was
	}
	if now == "" {
		now = e.Now
	}
	return fmt.Sprintf("the provider account changed from %s to %s; syncs reference the old account's records, so the reconnect was refused. Reconnect signing in to %s, or accept %s as the connection's account",
		was, now, was, now)
}

// accountLabel names an account for people: "Acme Sales (ops@acme.test)".
func accountLabel(id, name, email string) string {
	switch {
	case name != "" && email != "" && name != email:
		return name + " (" + email + ")"
	case name != "":
		return name
	case email != "":
		return email
	}
	return id
}

// ProviderError is a provider's refusal during connect, reconnect or test.
type ProviderError struct {
	Op  string
	Err error
}

func (e *ProviderError) Error() string { return e.Op + ": " + e.Err.Error() }
func (e *ProviderError) Unwrap() error { return e.Err }

// Rejected reports whether the provider refused the input (a bad key or code)
// rather than failed to answer.
func (e *ProviderError) Rejected() bool {
	switch connector.ClassOf(e.Err) {
	case connector.ClassUnauthorized, connector.ClassRevoked, connector.ClassInvalid, connector.ClassForbidden:
		return true
	}
	return false
}

// Errors of the OAuth callback.
var (
	ErrInvalidState   = errors.New("the authorization link is unknown, already used or expired (links work once, for 10 minutes); start the connection again")
	ErrConsentDenied  = errors.New("access was denied at the provider's consent page; nothing was changed; start again and approve to connect")
	ErrRefreshBlocked = errors.New("token refresh is backing off after repeated failures")
	ErrNoCredentials  = errors.New("the connection holds no credentials; reconnect it")
	// ErrCallbackSignature refuses a redirect whose provider signature does not verify.
	ErrCallbackSignature = errors.New("the provider's redirect is not signed by the provider (it may have been altered); start the connection again")
)
