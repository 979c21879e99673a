package connection

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"patchbay/internal/catalog"
	"patchbay/internal/connector"
	"patchbay/internal/store"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	blocked := &connector.Error{Class: connector.ClassRevoked, Err: ErrRefreshBlocked}
	tests := []struct {
		name           string
		err            error
		auth           string
		status, reason string
		ok             bool
	}{
		{"401 OAuth", &connector.Error{Class: connector.ClassUnauthorized, Status: 401}, catalog.AuthOAuth2, StatusExpired, ReasonTokenExpired, true},
		{"401 API key", &connector.Error{Class: connector.ClassUnauthorized, Status: 401}, catalog.AuthAPIKey, StatusError, ReasonInvalidAPIKey, true},
		{"revoked", &connector.Error{Class: connector.ClassRevoked, Code: "invalid_grant"}, catalog.AuthOAuth2, StatusError, ReasonAuthorizationRevoked, true},
		{"suspended", &connector.Error{Class: connector.ClassSuspended}, catalog.AuthOAuth2, StatusError, ReasonAccountSuspended, true},
		{"403", &connector.Error{Class: connector.ClassForbidden, Scope: "x.write"}, catalog.AuthOAuth2, StatusConnected, ReasonLimitedPermissions, true},
		{"503", &connector.Error{Class: connector.ClassUnavailable, Status: 503}, catalog.AuthOAuth2, StatusError, ReasonServiceUnavailable, true},
		{"wrapped timeout", fmt.Errorf("sync: %w", &connector.Error{Class: connector.ClassUnavailable}), catalog.AuthAPIKey, StatusError, ReasonServiceUnavailable, true},
		{"429", &connector.Error{Class: connector.ClassRateLimited, Status: 429}, catalog.AuthOAuth2, "", "", false},
		{"404", &connector.Error{Class: connector.ClassNotFound}, catalog.AuthOAuth2, "", "", false},
		{"bad record", &connector.Error{Class: connector.ClassInvalid}, catalog.AuthOAuth2, "", "", false},
		{"breaker", blocked, catalog.AuthOAuth2, "", "", false},
		{"plain error", errors.New("boom"), catalog.AuthOAuth2, "", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, reason, ok := Classify(tc.err, tc.auth)
			if status != tc.status || reason != tc.reason || ok != tc.ok {
				t.Fatalf("Classify = %s/%s/%v, want %s/%s/%v", status, reason, ok, tc.status, tc.reason, tc.ok)
			}
			if ok && Explain(reason).Fix == "" {
				t.Fatalf("reason %s has no fix text", reason)
			}
		})
	}
}

func TestRefusalTellsRevokedFromExpired(t *testing.T) {
	t.Parallel()
	now := time.Now()
	dead := &connector.Error{Class: connector.ClassRevoked, Status: 400, Code: "BAD_REFRESH_TOKEN"}
	live := connector.Credentials{AccessToken: "at", RefreshToken: "rt", Expiry: now.Add(20 * time.Minute)}
	aged := connector.Credentials{AccessToken: "at", RefreshToken: "rt", Expiry: now.Add(-time.Minute)}
	tests := []struct {
		name   string
		creds  connector.Credentials
		failed string
		want   connector.Class
	}{
		{"live token refused, then its refresh token", live, "at", connector.ClassRevoked},
		{"aged-out token, refresh refused", aged, "at", connector.ClassUnauthorized},
		{"renewal ahead of expiry refused", live, "", connector.ClassUnauthorized},
	}
	for _, tc := range tests {
		if got := connector.ClassOf(refusal(dead, tc.creds, tc.failed, now)); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
	outage := &connector.Error{Class: connector.ClassUnavailable}
	if refusal(outage, live, "at", now) != outage {
		t.Error("an outage of the token endpoint was reclassified")
	}
}

func TestCaution(t *testing.T) {
	t.Parallel()
	cat, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	hs, _ := cat.Get("hubspot")
	now := time.Now()
	all := hs.DefaultScopes()
	outbound := []*store.Sync{{Direction: "outbound", Object: "companies"}}
	tests := []struct {
		name    string
		granted []string
		syncs   []*store.Sync
		grant   Grant
		reason  string
		detail  string
	}{
		{"typical set granted", all, nil, Grant{Expiry: now.Add(time.Hour), CanRefresh: true}, ReasonNone, ""},
		{"typical scope missing", []string{"oauth", "crm.objects.contacts.read"}, nil, Grant{CanRefresh: true}, ReasonLimitedPermissions, "crm.objects.companies.read (typical)"},
		{"sync needs write", all, outbound, Grant{CanRefresh: true}, ReasonLimitedPermissions, "crm.objects.companies.write (needed by a sync)"},
		{"token ends without refresh", all, nil, Grant{Expiry: now.Add(48 * time.Hour)}, ReasonExpiringSoon, "no usable refresh token"},
		{"token ends, refresh works", all, nil, Grant{Expiry: now.Add(48 * time.Hour), CanRefresh: true}, ReasonNone, ""},
		{"grant ends in 3 days", all, nil, Grant{GrantExpiry: now.Add(72 * time.Hour), CanRefresh: true}, ReasonExpiringSoon, "authorization ends"},
		{"grant ends in 30 days", all, nil, Grant{GrantExpiry: now.Add(30 * 24 * time.Hour), CanRefresh: true}, ReasonNone, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &store.Connection{ScopesGranted: tc.granted, ScopesRequested: tc.granted}
			reason, detail := Caution(c, hs, tc.syncs, tc.grant, now)
			if reason != tc.reason || !strings.Contains(detail, tc.detail) {
				t.Fatalf("Caution = %q %q, want %q containing %q", reason, detail, tc.reason, tc.detail)
			}
			if reason != ReasonNone && Health(StatusConnected, reason) != HealthYellow {
				t.Fatalf("%s is not yellow", reason)
			}
		})
	}
}
