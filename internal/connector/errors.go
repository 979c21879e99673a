package connector

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"
)

// Class says what kind of failure a provider call met. Health and sync code
// branch on it; connectors set it from the provider's status and error body.
type Class string

// Failure classes.
const (
	ClassUnauthorized Class = "unauthorized" // 401: token expired or invalid, key wrong
	ClassRevoked      Class = "revoked"      // the grant was revoked or refresh token is dead (invalid_grant)
	ClassForbidden    Class = "forbidden"    // 403: authenticated but missing a scope / permission
	ClassSuspended    Class = "suspended"    // the account is suspended or the app uninstalled
	ClassNotFound     Class = "not_found"    // 404
	ClassInvalid      Class = "invalid"      // 400/422: the request or a record is wrong
	ClassRateLimited  Class = "rate_limited" // 429 after retries were exhausted
	ClassUnavailable  Class = "unavailable"  // 5xx, timeouts, connection refused
	ClassUnknown      Class = "unknown"
)

// Error is a classified provider failure.
type Error struct {
	Class      Class
	Status     int           // HTTP status, 0 when no response
	Code       string        // the provider's own error code (e.g. "BAD_REFRESH_TOKEN", "invalid_grant")
	Message    string        // the provider's message, safe to show (never contains credentials)
	Scope      string        // for ClassForbidden: the missing scope when the provider names it
	RetryAfter time.Duration // for ClassRateLimited
	Err        error         // underlying transport error, if any
}

func (e *Error) Error() string {
	s := string(e.Class)
	if e.Status != 0 {
		s = fmt.Sprintf("%s (HTTP %d)", s, e.Status)
	}
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// ClassOf returns the class of err, ClassUnknown when it is not a *Error.
func ClassOf(err error) Class {
	var ce *Error
	if errors.As(err, &ce) {
		return ce.Class
	}
	return ClassUnknown
}

// ClassForStatus is the default mapping from an HTTP status to a class;
// connectors refine it from the error body (e.g. a revoked grant).
func ClassForStatus(status int) Class {
	switch {
	case status == 401:
		return ClassUnauthorized
	case status == 403:
		return ClassForbidden
	case status == 404:
		return ClassNotFound
	case status == 429:
		return ClassRateLimited
	case status >= 500:
		return ClassUnavailable
	case status >= 400:
		return ClassInvalid
	}
	return ClassUnknown
}

// TransportError classifies a failure of http.Client.Do: a classified error
// from the transport passes through, a cancelled context stays itself, and
// anything else is the provider being unreachable. The *url.Error wrapper is
// dropped because its text repeats the request URL, which can carry a token.
// who names the provider in the message ("HubSpot").
func TransportError(ctx context.Context, err error, who string) error {
	var ce *Error
	if errors.As(err, &ce) {
		return ce
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return &Error{Class: ClassUnavailable, Message: who + " could not be reached", Err: err}
}
