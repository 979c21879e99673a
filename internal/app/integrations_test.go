package app_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"patchbay/internal/app"
	"patchbay/internal/app/apptest"
	"patchbay/internal/catalog"
	fakeairtable "patchbay/internal/fakes/airtable"
	fakesalesforce "patchbay/internal/fakes/salesforce"
)

func salesforceFake(e *apptest.Env) *fakesalesforce.Fake {
	return e.Fakes["salesforce"].Handler.(*fakesalesforce.Fake)
}

func airtableFake(e *apptest.Env) *fakeairtable.Fake {
	return e.Fakes["airtable"].Handler.(*fakeairtable.Fake)
}

type detail struct {
	apptest.Connection
	ReasonDetail string            `json:"reason_detail"`
	Endpoint     string            `json:"endpoint"`
	Config       map[string]string `json:"config"`
	APIUsage     *struct {
		Used   int64  `json:"used"`
		Limit  int64  `json:"limit"`
		Period string `json:"period"`
	} `json:"api_usage"`
}

func connDetail(e *apptest.Env, id string) detail {
	e.T.Helper()
	var d detail
	e.MustDo(http.StatusOK, "GET", "/connections/"+id, nil, &d)
	return d
}

func reconnect(t *testing.T, e *apptest.Env, id, account string, body any) (int, string) {
	t.Helper()
	var r struct {
		AuthorizeURL string `json:"authorize_url"`
	}
	e.MustDo(http.StatusOK, "POST", "/connections/"+id+"/reconnect", body, &r)
	return e.Consent(r.AuthorizeURL, url.Values{"account": {account}})
}

// TestSalesforceConnectReconnect: the token's instance_url is the API base,
// the org is the account, the daily API usage is shown, an expired session is
// found by a 401 and refreshed with the same refresh token, a reconnect to
// another org is refused, and disconnect revokes at Salesforce.
func TestSalesforceConnectReconnect(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	ctx := context.Background()
	if err := e.Store().SetPlan(ctx, app.DefaultWorkspace, catalog.TierPremium); err != nil {
		t.Fatal(err)
	}
	id := e.ConnectOAuth("salesforce", "org-1", nil)
	d := connDetail(e, id)
	if d.Status != "connected" || d.Health != "green" || d.Account.ID != fakesalesforce.OrgID("org-1") || d.Account.Email != fakesalesforce.UserEmail("org-1") {
		t.Fatalf("after connect: %+v", d)
	}
	if d.Endpoint != e.URL+"/_fakes/salesforce" {
		t.Errorf("endpoint %q, want the instance_url of the token", d.Endpoint)
	}
	if d.APIUsage == nil || d.APIUsage.Used < 1 || d.APIUsage.Limit != fakesalesforce.DefaultDailyLimit || d.APIUsage.Period != "24h" {
		t.Errorf("api usage = %+v", d.APIUsage)
	}
	creds, err := e.App.Conns.Token(ctx, id, "")
	if err != nil || !creds.Expiry.IsZero() || creds.RefreshToken == "" {
		t.Fatalf("stored credentials: expiry %v refresh %t, %v", creds.Expiry, creds.RefreshToken != "", err)
	}

	// The session times out: the probe meets 401 INVALID_SESSION_ID, refreshes
	// once and succeeds; the refresh token is kept (Salesforce sends none back).
	salesforceFake(e).Kit().Expire("org-1")
	e.MustDo(http.StatusOK, "POST", "/connections/"+id+"/test", nil, nil)
	if c := e.Connection(id); c.Status != "connected" {
		t.Fatalf("after an expired session: %+v", c)
	}
	fresh, _ := e.App.Conns.Token(ctx, id, "")
	if fresh.AccessToken == creds.AccessToken || fresh.RefreshToken != creds.RefreshToken {
		t.Errorf("refresh: new access token %t, same refresh token %t", fresh.AccessToken != creds.AccessToken, fresh.RefreshToken == creds.RefreshToken)
	}
	if s := salesforceFake(e).Stats(); s.TokensRefreshed != 1 {
		t.Errorf("refreshes = %d, want 1", s.TokensRefreshed)
	}

	// Reconnecting to another org is refused; the same org is fine.
	if st, body := reconnect(t, e, id, "org-2", nil); st != http.StatusConflict || !strings.Contains(body, "account_mismatch") {
		t.Fatalf("reconnect to another org: %d %s", st, body)
	}
	if st, body := reconnect(t, e, id, "org-1", nil); st != http.StatusSeeOther {
		t.Fatalf("reconnect to the same org: %d %s", st, body)
	}
	if c := e.Connection(id); c.Account.ID != fakesalesforce.OrgID("org-1") || c.Status != "connected" {
		t.Fatalf("after reconnect: %+v", c)
	}

	// Disconnect revokes the refresh token at Salesforce.
	last, _ := e.App.Conns.Token(ctx, id, "")
	e.MustDo(http.StatusOK, "POST", "/connections/"+id+"/disconnect", nil, nil)
	resp, err := http.PostForm(e.URL+"/_fakes/salesforce/services/oauth2/token", url.Values{"grant_type": {"refresh_token"},
		"refresh_token": {last.RefreshToken}, "client_id": {"patchbay-demo"}, "client_secret": {"patchbay-demo-secret"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("refresh token works after disconnect: %d", resp.StatusCode)
	}
}

func TestSalesforceNeedsThePremiumPlan(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	st, body := e.Do("POST", "/connections", map[string]any{"provider": "salesforce"}, nil)
	if st != http.StatusForbidden || !strings.Contains(body, "premium") {
		t.Fatalf("connect on the standard plan: %d %s", st, body)
	}
}

// TestAirtableBasesKeptOnReconnect: the bases chosen at connect stay in the
// connection's settings through reconnects and are checked each time; a base
// no longer shared turns the connection yellow with the fix. Refresh tokens
// rotate on every refresh and are never used twice.
func TestAirtableBasesKeptOnReconnect(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	ctx := context.Background()
	b1, b2 := fakeairtable.BaseID("acct-at", 1), fakeairtable.BaseID("acct-at", 2)
	bases := b1 + "," + b2
	id := e.ConnectOAuth("airtable", "acct-at", map[string]string{"base_ids": bases})
	d := connDetail(e, id)
	if d.Status != "connected" || d.Health != "green" || d.Account.ID != fakeairtable.UserID("acct-at") || d.Account.Name != "Sales CRM, Marketing" {
		t.Fatalf("after connect: %+v", d)
	}

	// Rotation: two forced refreshes, each with the newest refresh token.
	for range 2 {
		cur, err := e.App.Conns.Token(ctx, id, "")
		if err != nil {
			t.Fatal(err)
		}
		next, err := e.App.Conns.Token(ctx, id, cur.AccessToken)
		if err != nil || next.RefreshToken == cur.RefreshToken || next.Expiry.IsZero() {
			t.Fatalf("refresh: rotated %t, expiry %v, %v", next.RefreshToken != cur.RefreshToken, next.Expiry, err)
		}
	}
	if s := airtableFake(e).Stats(); s.TokensRefreshed != 2 || s.RefreshTokensReused != 0 {
		t.Fatalf("stats = %+v", s)
	}

	if st, body := reconnect(t, e, id, "acct-at", nil); st != http.StatusSeeOther {
		t.Fatalf("reconnect: %d %s", st, body)
	}
	if d := connDetail(e, id); d.Config["base_ids"] != bases || d.Health != "green" {
		t.Fatalf("after reconnect: config %v health %s", d.Config, d.Health)
	}

	// The user unticks a base at Airtable: the reconnect keeps the settings
	// and flags the lost base.
	airtableFake(e).SetSharedBases("acct-at", []string{b1})
	if st, body := reconnect(t, e, id, "acct-at", nil); st != http.StatusSeeOther {
		t.Fatalf("reconnect without a base: %d %s", st, body)
	}
	d = connDetail(e, id)
	if d.Config["base_ids"] != bases || d.Health != "yellow" || d.Reason != "limited_permissions" ||
		!strings.Contains(d.ReasonDetail, b2) || !strings.Contains(d.ReasonDetail, "re-select which bases") {
		t.Fatalf("after losing a base: %+v", d)
	}
	// The periodic probe says the same until the base is shared again.
	e.MustDo(http.StatusOK, "POST", "/connections/"+id+"/test", nil, nil)
	if d := connDetail(e, id); d.Health != "yellow" || !strings.Contains(d.ReasonDetail, b2) {
		t.Fatalf("probe after losing a base: %+v", d)
	}
	airtableFake(e).SetSharedBases("acct-at", []string{b1, b2})
	if st, body := reconnect(t, e, id, "acct-at", nil); st != http.StatusSeeOther {
		t.Fatalf("reconnect with the base: %d %s", st, body)
	}
	if d := connDetail(e, id); d.Health != "green" {
		t.Fatalf("after sharing the base again: %+v", d)
	}
}

// TestAirtableBasesAreOptional: without base ids a connection uses every base
// chosen at Airtable's consent page (the schema discovers them); ids that are
// not base ids are refused.
func TestAirtableBasesAreOptional(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	if st, body := e.Do("POST", "/connections", map[string]any{"provider": "airtable"}, nil); st != http.StatusCreated {
		t.Fatalf("connect without bases: %d %s", st, body)
	}
	st, body := e.Do("POST", "/connections", map[string]any{"provider": "airtable", "config": map[string]string{"base_ids": "not-a-base"}}, nil)
	if st != http.StatusBadRequest && st != http.StatusUnprocessableEntity || !strings.Contains(body, "base_ids") {
		t.Fatalf("connect with a bad base id: %d %s", st, body)
	}
}
