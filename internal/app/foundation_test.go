package app_test

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"patchbay/internal/app"
	"patchbay/internal/app/apptest"
	"patchbay/internal/connection"
	"patchbay/internal/connector"
	fakehubspot "patchbay/internal/fakes/hubspot"
	"patchbay/internal/store"
)

func hubspotFake(e *apptest.Env) *fakehubspot.Fake {
	return e.Fakes["hubspot"].Handler.(*fakehubspot.Fake)
}

// seedSyncs gives a connection a table, two syncs (one paused by the user)
// and a run, as the sync engine would.
func seedSyncs(t *testing.T, e *apptest.Env, connID string) (running, byUser *store.Sync) {
	t.Helper()
	ctx := context.Background()
	s := e.Store()
	tb := &store.Table{WorkspaceID: app.DefaultWorkspace, Name: "Leads", Columns: []store.Column{{Name: "email", Type: "text"}}}
	running = &store.Sync{WorkspaceID: app.DefaultWorkspace, ConnectionID: connID, Direction: "inbound", Object: "contacts",
		Schedule: "every:15m", Mapping: []store.Mapping{{Source: "email", Target: "email"}}}
	byUser = &store.Sync{WorkspaceID: app.DefaultWorkspace, ConnectionID: connID, Direction: "outbound", Object: "contacts",
		Paused: true, PauseReason: connection.PauseUser, MatchKey: "email"}
	err := s.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.CreateTable(ctx, tb); err != nil {
			return err
		}
		running.TableID, byUser.TableID = tb.ID, tb.ID
		if err := tx.CreateSync(ctx, running); err != nil {
			return err
		}
		return tx.CreateSync(ctx, byUser)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SaveRun(ctx, &store.Run{SyncID: running.ID, WorkspaceID: app.DefaultWorkspace, Trigger: "manual", Status: "succeeded",
		StartedAt: time.Now(), FinishedAt: time.Now(), Read: 5, Created: 5}); err != nil {
		t.Fatal(err)
	}
	return running, byUser
}

func TestConnectOAuthStoresEncryptedTokensAndIdentity(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	id := e.ConnectOAuth("hubspot", "acct-a", nil)
	c := e.Connection(id)
	if c.Status != "connected" || c.Health != "green" || c.ConnectedAt == nil {
		t.Fatalf("connection %+v", c)
	}
	if want := fakehubspot.HubID("acct-a"); c.Account.ID != strconv.FormatInt(want, 10) || c.Account.Email != fakehubspot.UserEmail("acct-a") {
		t.Fatalf("account %+v, want portal %d", c.Account, want)
	}
	creds, err := e.App.Conns.Token(context.Background(), id, "")
	if err != nil || creds.AccessToken == "" || creds.RefreshToken == "" {
		t.Fatalf("token: %v", err)
	}
	raw := readDB(t, e)
	for _, secret := range []string{creds.AccessToken, creds.RefreshToken} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Fatal("a token is stored in clear in the SQLite file")
		}
	}
	_, body := e.Do("GET", "/connections/"+id, nil, nil)
	if strings.Contains(body, creds.AccessToken) || strings.Contains(body, creds.RefreshToken) {
		t.Fatal("the API returned a token")
	}
}

func readDB(t *testing.T, e *apptest.Env) []byte {
	t.Helper()
	return e.RawData()
}

func TestRefreshIsSingleFlightAndRotationSafe(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	id := e.ConnectOAuth("hubspot", "acct-r", nil)
	fake := hubspotFake(e)
	before := fake.Stats()
	e.Control("hubspot", "expire", map[string]string{"account": "acct-r"})
	// The fake's expire makes the token fail; Patchbay only learns it from a 401,
	// so 100 callers report the same refused token at once.
	old, err := e.App.Conns.Token(context.Background(), id, "")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	tokens := make([]string, 100)
	errs := make([]error, 100)
	for i := range 100 {
		wg.Go(func() {
			c, err := e.App.Conns.Token(context.Background(), id, old.AccessToken)
			tokens[i], errs[i] = c.AccessToken, err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("caller %d: %v", i, err)
		}
		if tokens[i] == old.AccessToken || tokens[i] != tokens[0] {
			t.Fatalf("caller %d got token %d, want the one new token", i, i)
		}
	}
	after := fake.Stats()
	if n := after.TokensRefreshed - before.TokensRefreshed; n != 1 {
		t.Fatalf("%d refreshes at the provider, want exactly 1", n)
	}
	if after.RefreshTokensReused != 0 {
		t.Fatalf("%d refresh tokens reused", after.RefreshTokensReused)
	}
	// A probe now uses the new token and the connection stays green.
	var c apptest.Connection
	e.MustDo(200, "POST", "/connections/"+id+"/test", nil, &c)
	if c.Status != "connected" {
		t.Fatalf("after refresh: %+v", c)
	}
}

func TestDeadRefreshBacksOff(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	id := e.ConnectOAuth("hubspot", "acct-dead", nil)
	e.Control("hubspot", "revoke", map[string]string{"account": "acct-dead"})
	old, _ := e.App.Conns.Token(context.Background(), id, "")
	fake := hubspotFake(e)
	if _, err := e.App.Conns.Token(context.Background(), id, old.AccessToken); connector.ClassOf(err) != connector.ClassRevoked {
		t.Fatalf("first refresh of a revoked grant: %v", err)
	}
	calls := fake.Stats().Calls
	for range 50 {
		if _, err := e.App.Conns.Token(context.Background(), id, old.AccessToken); err == nil {
			t.Fatal("refresh succeeded on a revoked grant")
		}
	}
	if n := fake.Stats().Calls - calls; n != 0 {
		t.Fatalf("the breaker let %d calls through", n)
	}
	// The provider refused a token that was still within its lifetime, then
	// its refresh token: the grant was revoked there (see connection.Classify).
	c := e.Connection(id)
	if c.Status != "error" || c.Reason != "authorization_revoked" || c.Health != "red" {
		t.Fatalf("after failed refresh: %s/%s/%s", c.Status, c.Reason, c.Health)
	}
}

func TestReconnectKeepsSyncsAndHistory(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	id := e.ConnectOAuth("hubspot", "acct-k", nil, "crm.objects.contacts.read")
	running, byUser := seedSyncs(t, e, id)

	// Disconnect pauses the running sync with reason disconnected.
	e.MustDo(200, "POST", "/connections/"+id+"/disconnect", nil, nil)
	c := e.Connection(id)
	if c.Status != "disconnected" {
		t.Fatalf("status %s", c.Status)
	}

	// Reconnect with more scopes: syncs, mappings and runs stay; the disconnect
	// pause lifts; the user's pause does not.
	var r struct {
		AuthorizeURL string `json:"authorize_url"`
	}
	e.MustDo(200, "POST", "/connections/"+id+"/reconnect", map[string]any{"scopes": []string{"crm.objects.contacts.read", "crm.objects.contacts.write"}}, &r)
	if st, body := e.Consent(r.AuthorizeURL, url.Values{"account": {"acct-k"}}); st != http.StatusSeeOther {
		t.Fatalf("callback %d %s", st, body)
	}
	c = e.Connection(id)
	if c.Status != "connected" || len(c.Syncs) != 2 || len(c.RecentRuns) == 0 {
		t.Fatalf("after reconnect: %+v", c)
	}
	// The resumed sync gets one catch-up run; the history before it stays.
	waitRun(t, e, running.ID, func(r *store.Run) bool { return r.Trigger == "reconnect" && r.Status != "running" })
	if runs, _ := e.Store().ListRuns(context.Background(), app.DefaultWorkspace, running.ID, "", 10); len(runs) != 2 {
		t.Fatalf("runs after reconnect: %d, want the seeded one and the catch-up", len(runs))
	}
	if !slices.Equal(c.ScopesAdded, []string{"crm.objects.contacts.write"}) {
		t.Fatalf("scopes added %v", c.ScopesAdded)
	}
	ctx := context.Background()
	got, _ := e.Store().GetSync(ctx, app.DefaultWorkspace, running.ID)
	if got.Paused || len(got.Mapping) != 1 {
		t.Fatalf("running sync after reconnect: %+v", got)
	}
	got, _ = e.Store().GetSync(ctx, app.DefaultWorkspace, byUser.ID)
	if !got.Paused || got.PauseReason != connection.PauseUser {
		t.Fatalf("user-paused sync after reconnect: %+v", got)
	}

	// Unticking a scope at consent is recorded, and the next reconnect asks for it again.
	e.MustDo(200, "POST", "/connections/"+id+"/reconnect", nil, &r)
	if st, _ := e.Consent(r.AuthorizeURL, url.Values{"account": {"acct-k"}, "scope": {"oauth crm.objects.contacts.read"}}); st != http.StatusSeeOther {
		t.Fatalf("callback %d", st)
	}
	c = e.Connection(id)
	if !slices.Contains(c.ScopesDropped, "crm.objects.contacts.write") || c.Reason != "limited_permissions" || c.Health != "yellow" {
		t.Fatalf("after unticking: dropped %v reason %s health %s", c.ScopesDropped, c.Reason, c.Health)
	}
	e.MustDo(200, "POST", "/connections/"+id+"/reconnect", nil, &r)
	u, _ := url.Parse(r.AuthorizeURL)
	if !strings.Contains(u.Query().Get("scope"), "crm.objects.contacts.write") {
		t.Fatalf("reconnect does not ask again for the unticked scope: %s", u.Query().Get("scope"))
	}
}

func TestReconnectToAnotherAccount(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	id := e.ConnectOAuth("hubspot", "acct-1", nil)
	before := e.Connection(id)
	var r struct {
		AuthorizeURL string `json:"authorize_url"`
	}
	e.MustDo(200, "POST", "/connections/"+id+"/reconnect", nil, &r)
	st, body := e.Consent(r.AuthorizeURL, url.Values{"account": {"acct-2"}})
	if st != http.StatusConflict || !strings.Contains(body, "account_mismatch") {
		t.Fatalf("reconnect to another account: %d %s", st, body)
	}
	if c := e.Connection(id); c.Account.ID != before.Account.ID || c.Status != "connected" {
		t.Fatalf("refused reconnect changed the connection: %+v", c)
	}
	e.MustDo(200, "POST", "/connections/"+id+"/reconnect", map[string]any{"allow_account_change": true}, &r)
	if st, body := e.Consent(r.AuthorizeURL, url.Values{"account": {"acct-2"}}); st != http.StatusSeeOther {
		t.Fatalf("confirmed account change: %d %s", st, body)
	}
	if c := e.Connection(id); c.Account.ID != strconv.FormatInt(fakehubspot.HubID("acct-2"), 10) {
		t.Fatalf("account after confirmed change: %+v", c.Account)
	}
}

func TestDisconnectDeletesCredentialsForGood(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	id := e.ConnectOAuth("hubspot", "acct-d", nil)
	ctx := context.Background()
	creds, err := e.App.Conns.Token(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	cred, err := e.Store().Credential(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	e.MustDo(200, "POST", "/connections/"+id+"/disconnect", nil, nil)
	raw := readDB(t, e)
	for name, secret := range map[string][]byte{"access token": []byte(creds.AccessToken), "refresh token": []byte(creds.RefreshToken),
		"ciphertext": cred.Ciphertext[len(cred.Ciphertext)-32:]} {
		if bytes.Contains(raw, secret) {
			t.Fatalf("%s still in the database file after disconnect", name)
		}
	}
	// The provider revoked the grant: the old refresh token no longer works there.
	resp, err := http.PostForm(e.URL+"/_fakes/hubspot/oauth/v1/token", url.Values{"grant_type": {"refresh_token"},
		"refresh_token": {creds.RefreshToken}, "client_id": {"patchbay-demo"}, "client_secret": {"patchbay-demo-secret"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("refresh token still works at the provider after disconnect: %d", resp.StatusCode)
	}
	c := e.Connection(id)
	if c.Status != "disconnected" || c.Health != "grey" {
		t.Fatalf("after disconnect: %+v", c)
	}
	// Connecting the same account again brings back the same connection record.
	again := e.ConnectOAuth("hubspot", "acct-d", nil)
	if again != id {
		t.Fatalf("connect after disconnect made %s, want %s reused", again, id)
	}
}

func TestCallbackRefusesBadInput(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	var out struct {
		AuthorizeURL string `json:"authorize_url"`
	}
	e.MustDo(201, "POST", "/connections", map[string]any{"provider": "hubspot"}, &out)
	resp, err := e.HTTP.PostForm(out.AuthorizeURL, url.Values{"decision": {"approve"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	callback := resp.Header.Get("Location")
	cb, _ := url.Parse(callback)
	state := cb.Query().Get("state")

	if st, _ := e.Get(callback); st != http.StatusSeeOther {
		t.Fatalf("first callback %d", st)
	}
	tests := []struct {
		name  string
		query string
		want  int
		text  string
	}{
		{"replayed state", cb.RawQuery, 400, "already used"},
		{"forged state", "code=x&state=forged", 400, "unknown"},
		{"no state", "code=x", 400, "unknown"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, body := e.Get(e.URL + "/oauth/callback?" + tc.query)
			if st != tc.want || !strings.Contains(body, tc.text) {
				t.Fatalf("%d %s", st, body)
			}
		})
	}
	_ = state

	// Denied consent: 400, nothing connected.
	e.MustDo(201, "POST", "/connections", map[string]any{"provider": "hubspot"}, &out)
	st, body := e.Consent(out.AuthorizeURL, url.Values{"decision": {"deny"}})
	if st != 400 || !strings.Contains(body, "denied") {
		t.Fatalf("denied consent: %d %s", st, body)
	}

	// A code the provider rejects: 422, nothing stored.
	e.MustDo(201, "POST", "/connections", map[string]any{"provider": "hubspot"}, &out)
	au, _ := url.Parse(out.AuthorizeURL)
	st, body = e.Get(e.URL + "/oauth/callback?code=not-a-code&state=" + url.QueryEscape(au.Query().Get("state")))
	if st != 422 {
		t.Fatalf("rejected code: %d %s", st, body)
	}
}

func TestAPIRefusesBadInput(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	tests := []struct {
		name   string
		method string
		path   string
		body   any
		want   int
		field  string
	}{
		{"unknown provider", "POST", "/connections", map[string]any{"provider": "nope"}, 422, "provider"},
		{"unknown scope", "POST", "/connections", map[string]any{"provider": "hubspot", "scopes": []string{"root"}}, 422, "scopes"},
		{"missing config field", "POST", "/connections", map[string]any{"provider": "dataprovider", "api_key": "k"}, 422, "config.endpoint_url"},
		{"unknown config field", "POST", "/connections", map[string]any{"provider": "hubspot", "config": map[string]string{"color": "red"}}, 422, "config.color"},
		{"bad portal id", "POST", "/connections", map[string]any{"provider": "hubspot", "config": map[string]string{"portal_id": "abc"}}, 422, "config.portal_id"},
		{"unknown field", "POST", "/connections", map[string]any{"provider": "hubspot", "colour": 1}, 422, "body"},
		{"malformed JSON", "POST", "/connections", "{", 422, "body"},
		{"missing api key", "POST", "/connections", map[string]any{"provider": "dataprovider", "config": map[string]string{"endpoint_url": "http://x"}}, 422, "api_key"},
		{"no such connection", "GET", "/connections/con_nope", nil, 404, ""},
		{"no such route", "GET", "/nothing", nil, 404, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, body := e.Do(tc.method, tc.path, tc.body, nil)
			if st != tc.want || !strings.Contains(body, `"status":`) || !strings.Contains(body, tc.field) {
				t.Fatalf("%d %s", st, body)
			}
		})
	}
	conns, err := e.Store().ListConnections(context.Background(), app.DefaultWorkspace)
	if err != nil || len(conns) != 0 {
		t.Fatalf("bad input left %d connections behind (%v)", len(conns), err)
	}
	resp, err := http.Get(e.URL + "/api/v1/connections")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("no token: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

func TestSyncAuthFailuresTurnTheConnectionRedOnce(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	id := e.ConnectOAuth("hubspot", "acct-s", nil)
	running, byUser := seedSyncs(t, e, id)
	ctx := context.Background()
	revoked := &connector.Error{Class: connector.ClassRevoked, Status: 400, Code: "invalid_grant"}
	for _, sync := range []*store.Sync{running, byUser} {
		if conn, err := e.App.Conns.SyncFailed(ctx, id, sync.ID, revoked); err != nil || !conn {
			t.Fatalf("SyncFailed: %v %v", conn, err)
		}
	}
	c := e.Connection(id)
	if c.Status != "error" || c.Reason != "authorization_revoked" {
		t.Fatalf("connection %s/%s", c.Status, c.Reason)
	}
	evs, _ := e.Store().ListEvents(ctx, app.DefaultWorkspace, id, 50)
	n := 0
	for _, ev := range evs {
		if ev.Kind == "connection.status_changed" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d status events for two failing syncs, want 1", n)
	}
	got, _ := e.Store().GetSync(ctx, app.DefaultWorkspace, running.ID)
	if !got.Paused || got.PauseReason != connection.PauseAuthFailed {
		t.Fatalf("sync not waiting for reconnect: %+v", got)
	}
	var r struct {
		AuthorizeURL string `json:"authorize_url"`
	}
	e.MustDo(200, "POST", "/connections/"+id+"/reconnect", nil, &r)
	if st, body := e.Consent(r.AuthorizeURL, url.Values{"account": {"acct-s"}}); st != http.StatusSeeOther {
		t.Fatalf("callback %d %s", st, body)
	}
	got, _ = e.Store().GetSync(ctx, app.DefaultWorkspace, running.ID)
	if got.Paused {
		t.Fatalf("sync still paused after reconnect: %+v", got)
	}
	if bad, _ := e.App.Conns.SyncFailed(ctx, id, running.ID, &connector.Error{Class: connector.ClassInvalid}); bad {
		t.Fatal("a record-level error was blamed on the connection")
	}
}
