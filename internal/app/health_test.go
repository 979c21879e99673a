package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"patchbay/internal/app"
	"patchbay/internal/app/apptest"
	"patchbay/internal/connection"
	"patchbay/internal/connector"
	fakehubspot "patchbay/internal/fakes/hubspot"
	"patchbay/internal/notify"
	"patchbay/internal/notify/notifytest"
	"patchbay/internal/store"
)

// hookCall is one webhook delivery that arrived with a valid signature.
type hookCall struct {
	Event string
	Body  notify.Message
}

// webhookReceiver verifies every delivery against the secret it is given
// once the route exists, the way a Zapier or Slack receiver would.
func webhookReceiver(t *testing.T) (*httptest.Server, chan hookCall, chan string) {
	t.Helper()
	calls := make(chan hookCall, 16)
	secrets := make(chan string, 1)
	var secret string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if secret == "" {
			secret = <-secrets
		}
		body, _ := io.ReadAll(r.Body)
		ts, _ := strconv.ParseInt(r.Header.Get(notify.HeaderTimestamp), 10, 64)
		if !notify.Verify([]byte(secret), ts, body, r.Header.Get(notify.HeaderSignature)) {
			t.Errorf("webhook signature %q does not verify", r.Header.Get(notify.HeaderSignature))
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var m notify.Message
		if err := json.Unmarshal(body, &m); err != nil || m.Text == "" {
			t.Errorf("webhook body %s is not a Slack/Zapier-style message: %v", body, err)
		}
		calls <- hookCall{Event: r.Header.Get(notify.HeaderEvent), Body: m}
	}))
	t.Cleanup(srv.Close)
	return srv, calls, secrets
}

func nextHook(t *testing.T, calls chan hookCall) hookCall {
	t.Helper()
	select {
	case c := <-calls:
		return c
	case <-time.After(15 * time.Second):
		t.Fatal("no webhook delivery within 15 s")
		return hookCall{}
	}
}

func smtpEnv(srv *notifytest.Server) map[string]string {
	return map[string]string{"PATCHBAY_SMTP_HOST": srv.Host, "PATCHBAY_SMTP_PORT": strconv.Itoa(srv.Port),
		"PATCHBAY_SMTP_USERNAME": "patchbay", "PATCHBAY_SMTP_PASSWORD": "smtp-pw", "PATCHBAY_SMTP_FROM": "Patchbay <patchbay@example.com>",
		"PATCHBAY_SMTP_STARTTLS": "never"}
}

func sweep(t *testing.T, e *apptest.Env) {
	t.Helper()
	if _, err := e.App.Monitor().Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func expectState(t *testing.T, e *apptest.Env, id, status, reason, health string) apptest.Connection {
	t.Helper()
	c := e.Connection(id)
	if c.Status != status || c.Reason != reason || c.Health != health {
		t.Fatalf("connection is %s/%s/%s, want %s/%s/%s (last error %q)", c.Status, c.Reason, c.Health, status, reason, health, e.Connection(id).Account.ID+" "+lastError(t, e, id))
	}
	return c
}

func countEvents(t *testing.T, e *apptest.Env, connID, kind string) int {
	t.Helper()
	evs, err := e.Store().ListEvents(context.Background(), app.DefaultWorkspace, connID, 500)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range evs {
		if ev.Kind == kind {
			n++
		}
	}
	return n
}

// Every transition the fake's control surface can cause, seen by the health
// monitor's sweep, with one alert per episode by e-mail and signed webhook.
func TestHealthTransitionsNotifyOncePerEpisode(t *testing.T) {
	t.Parallel()
	mail := notifytest.Start(t, notifytest.Options{User: "patchbay", Password: "smtp-pw"})
	e := apptest.Start(t, apptest.Options{Env: smtpEnv(mail)})
	ctx := context.Background()
	id := e.ConnectOAuth("hubspot", "acct-h", nil)
	e.MustDo(201, "POST", "/notification-routes", map[string]any{"connection_id": id, "email": "ops@example.com"}, nil)
	hook, calls, secrets := webhookReceiver(t)
	var route struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	e.MustDo(201, "POST", "/notification-routes", map[string]any{"webhook_url": hook.URL + "/slack",
		"events": []string{notify.KindRed, notify.KindRecovered}}, &route)
	if !strings.HasPrefix(route.Secret, "whsec_") {
		t.Fatalf("webhook route secret %q", route.Secret)
	}
	secrets <- route.Secret
	if _, body := e.Do("GET", "/notification-routes", nil, nil); strings.Contains(body, route.Secret) {
		t.Fatal("the route list returns the webhook secret")
	}

	sweep(t, e)
	expectState(t, e, id, "connected", "", "green")

	// Outage: red service_unavailable, one alert however many sweeps see it.
	e.Control("hubspot", "outage", map[string]bool{"on": true})
	sweep(t, e)
	expectState(t, e, id, "error", "service_unavailable", "red")
	m := mail.Next(t)
	if !strings.Contains(m.Data, "service unavailable") || !strings.Contains(m.Data, "try again in a few minutes") || m.User != "patchbay" {
		t.Fatalf("outage e-mail:\n%s", m.Data)
	}
	if h := nextHook(t, calls); h.Event != notify.KindRed || h.Body.ConnectionID != id || h.Body.Reason != "service_unavailable" {
		t.Fatalf("outage webhook %+v", h)
	}
	sweep(t, e)
	// It heals by itself when the provider answers again: no reconnect.
	e.Control("hubspot", "outage", map[string]bool{"on": false})
	sweep(t, e)
	expectState(t, e, id, "connected", "", "green")
	if m := mail.Next(t); !strings.Contains(m.Data, "recovered") {
		t.Fatalf("recovery e-mail:\n%s", m.Data)
	}
	if h := nextHook(t, calls); h.Event != notify.KindRecovered {
		t.Fatalf("recovery webhook %+v", h)
	}
	if red, rec := countEvents(t, e, id, "notification."+notify.KindRed), countEvents(t, e, id, "notification."+notify.KindRecovered); red != 1 || rec != 1 {
		t.Fatalf("%d red and %d recovered notifications for one outage, want 1 and 1", red, rec)
	}

	// A tight rate limit is never an error: calls wait and succeed.
	e.Control("hubspot", "rate_limit", map[string]int{"per_second": 1})
	c, _ := e.Store().ConnectionByID(ctx, id)
	sess, conn, err := e.App.Conns.Session(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	before := hubspotFake(e).Stats().RateLimited
	for range 3 {
		if _, err := conn.List(ctx, sess, connector.ListRequest{Object: "contacts", Limit: 1}); err != nil {
			t.Fatalf("list under a rate limit: %v", err)
		}
	}
	if hubspotFake(e).Stats().RateLimited == before {
		t.Fatal("the fake sent no 429; the test proves nothing")
	}
	if bad, _ := e.App.Conns.SyncFailed(ctx, id, "syn_x", &connector.Error{Class: connector.ClassRateLimited, Status: 429}); bad {
		t.Fatal("a 429 was blamed on the connection")
	}
	sweep(t, e)
	expectState(t, e, id, "connected", "", "green")
	e.Control("hubspot", "rate_limit", map[string]int{"per_second": 0})

	// Expired access tokens are refreshed: still green, no alert.
	e.Control("hubspot", "expire", map[string]string{"account": "acct-h"})
	sweep(t, e)
	expectState(t, e, id, "connected", "", "green")

	// Revoked at the provider: red authorization_revoked, one alert.
	e.Control("hubspot", "revoke", map[string]string{"account": "acct-h"})
	sweep(t, e)
	sweep(t, e)
	expectState(t, e, id, "error", "authorization_revoked", "red")
	if m := mail.Next(t); !strings.Contains(m.Data, "authorization revoked") || !strings.Contains(m.Data, "Disconnect and reconnect") {
		t.Fatalf("revoked e-mail:\n%s", m.Data)
	}
	if h := nextHook(t, calls); h.Event != notify.KindRed || h.Body.Reason != "authorization_revoked" {
		t.Fatalf("revoked webhook %+v", h)
	}
	// Reconnecting closes the episode.
	var r struct {
		AuthorizeURL string `json:"authorize_url"`
	}
	e.MustDo(200, "POST", "/connections/"+id+"/reconnect", nil, &r)
	if st, body := e.Consent(r.AuthorizeURL, url.Values{"account": {"acct-h"}}); st != http.StatusSeeOther {
		t.Fatalf("callback %d %s", st, body)
	}
	expectState(t, e, id, "connected", "", "green")
	if m := mail.Next(t); !strings.Contains(m.Data, "recovered") {
		t.Fatalf("reconnect e-mail:\n%s", m.Data)
	}
	if red := countEvents(t, e, id, "notification."+notify.KindRed); red != 2 {
		t.Fatalf("%d red notifications for two episodes, want 2", red)
	}

	// The monthly digest lists the connection, once per month.
	for range 2 {
		if err := e.App.Notifier().SendDigests(ctx, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if countEvents(t, e, "", "notification."+notify.KindDigest) != 1 {
		t.Fatal("the digest was not sent exactly once this month")
	}
	var digest notify.Message
	e.MustDo(200, "GET", "/notification-digest", nil, &digest)
	if !strings.Contains(digest.Text, "HubSpot") || !strings.Contains(digest.Text, "1 green") {
		t.Fatalf("digest preview: %s", digest.Text)
	}
}

// A grant whose access token aged out and whose refresh token is refused is
// expired (token_expired); the monitor renews tokens before they lapse.
func TestMonitorRenewsTokensAndTellsExpiredFromRevoked(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{Fakes: func() map[string]app.Fake {
		return map[string]app.Fake{"hubspot": {Handler: fakehubspot.New(fakehubspot.Options{ClientID: "patchbay-demo",
			ClientSecret: "patchbay-demo-secret", AccessTTL: 2 * time.Minute}), ClientID: "patchbay-demo", ClientSecret: "patchbay-demo-secret"}}
	}})
	id := e.ConnectOAuth("hubspot", "acct-t", nil)
	fake := hubspotFake(e)
	before := fake.Stats().TokensRefreshed
	sweep(t, e)
	if fake.Stats().TokensRefreshed == before {
		t.Fatal("the sweep did not renew a token expiring within the refresh window")
	}
	expectState(t, e, id, "connected", "", "green")
	if fake.Stats().RefreshTokensReused != 0 {
		t.Fatal("a rotated refresh token was used twice")
	}
	e.Control("hubspot", "revoke", map[string]string{"account": "acct-t"})
	sweep(t, e)
	expectState(t, e, id, "expired", "token_expired", "red")
}

// Granted scopes are checked against the catalog's typical set and what the
// syncs need; a 403 from a sync names the missing scope.
func TestLimitedPermissionsNameTheScope(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	ctx := context.Background()
	id := e.ConnectOAuth("hubspot", "acct-p", nil, "crm.objects.contacts.read", "crm.objects.companies.read", "crm.objects.contacts.write")
	expectState(t, e, id, "connected", "", "green")
	// Unticking a typical scope at consent: yellow.
	var r struct {
		AuthorizeURL string `json:"authorize_url"`
	}
	e.MustDo(200, "POST", "/connections/"+id+"/reconnect", nil, &r)
	if st, _ := e.Consent(r.AuthorizeURL, url.Values{"account": {"acct-p"}, "scope": {"oauth crm.objects.contacts.read crm.objects.companies.read"}}); st != http.StatusSeeOther {
		t.Fatalf("callback %d", st)
	}
	expectState(t, e, id, "connected", "limited_permissions", "yellow")
	// An outbound sync needs the write scope: the detail says so.
	running, _ := seedSyncs(t, e, id)
	e.MustDo(200, "POST", "/connections/"+id+"/test", nil, nil)
	var d struct {
		ReasonDetail   string   `json:"reason_detail"`
		ScopesRequired []string `json:"scopes_required"`
		LeastPrivilege []string `json:"least_privilege"`
	}
	e.MustDo(200, "GET", "/connections/"+id, nil, &d)
	if !strings.Contains(d.ReasonDetail, "crm.objects.contacts.write") || !slices.Contains(d.ScopesRequired, "crm.objects.contacts.write") {
		t.Fatalf("detail %+v", d)
	}
	// A real 403 from HubSpot, reported by a sync, names the scope.
	c, _ := e.Store().ConnectionByID(ctx, id)
	sess, conn, err := e.App.Conns.Session(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	_, werr := conn.Write(ctx, sess, connector.WriteRequest{Object: "contacts", Records: []connector.Record{{Fields: map[string]any{"email": "a@example.com"}}}})
	if connector.ClassOf(werr) != connector.ClassForbidden {
		t.Fatalf("write without the scope: %v", werr)
	}
	if conn, err := e.App.Conns.SyncFailed(ctx, id, running.ID, werr); err != nil || !conn {
		t.Fatalf("SyncFailed(403) = %v, %v", conn, err)
	}
	e.MustDo(200, "GET", "/connections/"+id, nil, &d)
	if d.ReasonDetail != "missing permission crm.objects.contacts.write" {
		t.Fatalf("after 403: %q", d.ReasonDetail)
	}
	expectState(t, e, id, "connected", "limited_permissions", "yellow")
}

// Two syncs failing with auth errors within the window turn the connection
// red once; they wait for a reconnect, which resumes exactly them.
func TestSyncAuthFailuresWithinAWindow(t *testing.T) {
	t.Parallel()
	mail := notifytest.Start(t, notifytest.Options{User: "patchbay", Password: "smtp-pw"})
	e := apptest.Start(t, apptest.Options{Env: smtpEnv(mail)})
	ctx := context.Background()
	id := e.ConnectOAuth("hubspot", "acct-w", nil)
	e.MustDo(201, "POST", "/notification-routes", map[string]any{"email": "ops@example.com"}, nil)
	a, byUser := seedSyncs(t, e, id)
	b := &store.Sync{WorkspaceID: app.DefaultWorkspace, ConnectionID: id, TableID: a.TableID, Direction: "inbound", Object: "companies", Schedule: "every:15m"}
	untouched := &store.Sync{WorkspaceID: app.DefaultWorkspace, ConnectionID: id, TableID: a.TableID, Direction: "inbound", Object: "contacts", Schedule: "manual"}
	if err := e.Store().InTx(ctx, func(tx *store.Tx) error {
		if err := tx.CreateSync(ctx, b); err != nil {
			return err
		}
		return tx.CreateSync(ctx, untouched)
	}); err != nil {
		t.Fatal(err)
	}
	unauthorized := &connector.Error{Class: connector.ClassUnauthorized, Status: 401, Code: "INVALID_AUTHENTICATION"}

	if conn, err := e.App.Conns.SyncFailed(ctx, id, a.ID, unauthorized); err != nil || conn {
		t.Fatalf("first sync's failure: conn=%v err=%v, want the sync's own failure for now", conn, err)
	}
	expectState(t, e, id, "connected", "", "green")
	if conn, err := e.App.Conns.SyncFailed(ctx, id, b.ID, unauthorized); err != nil || !conn {
		t.Fatalf("second sync's failure: conn=%v err=%v", conn, err)
	}
	c := expectState(t, e, id, "expired", "token_expired", "red")
	waiting := map[string]bool{}
	var detail struct {
		Syncs []struct {
			ID                  string `json:"id"`
			WaitingForReconnect bool   `json:"waiting_for_reconnect"`
		} `json:"syncs"`
	}
	e.MustDo(200, "GET", "/connections/"+id, nil, &detail)
	for _, y := range detail.Syncs {
		waiting[y.ID] = y.WaitingForReconnect
	}
	if !waiting[a.ID] || !waiting[b.ID] || waiting[untouched.ID] || waiting[byUser.ID] || len(c.Syncs) != 4 {
		t.Fatalf("waiting for reconnect: %v", waiting)
	}
	// A third failure joins the wait without a second alert.
	if conn, _ := e.App.Conns.SyncFailed(ctx, id, a.ID, unauthorized); !conn {
		t.Fatal("a failure on a red connection was not the connection's")
	}
	if n := countEvents(t, e, id, "connection.status_changed"); n != 1 {
		t.Fatalf("%d status events, want 1", n)
	}
	if m := mail.Next(t); !strings.Contains(m.Data, "token expired") {
		t.Fatalf("alert:\n%s", m.Data)
	}
	if n := countEvents(t, e, id, "notification."+notify.KindRed); n != 1 {
		t.Fatalf("%d red notifications, want 1", n)
	}

	var r struct {
		AuthorizeURL string `json:"authorize_url"`
	}
	e.MustDo(200, "POST", "/connections/"+id+"/reconnect", nil, &r)
	if st, body := e.Consent(r.AuthorizeURL, url.Values{"account": {"acct-w"}}); st != http.StatusSeeOther {
		t.Fatalf("callback %d %s", st, body)
	}
	evs, _ := e.Store().ListEvents(ctx, app.DefaultWorkspace, id, 50)
	var resumed []string
	for _, ev := range evs {
		if ev.Kind == "connection.reconnected" {
			for _, v := range ev.Data["resumed_syncs"].([]any) {
				resumed = append(resumed, v.(string))
			}
		}
	}
	slices.Sort(resumed)
	want := []string{a.ID, b.ID}
	slices.Sort(want)
	if !slices.Equal(resumed, want) {
		t.Fatalf("resumed %v, want exactly the waiting syncs %v", resumed, want)
	}
	got, _ := e.Store().GetSync(ctx, app.DefaultWorkspace, byUser.ID)
	if !got.Paused || got.PauseReason != connection.PauseUser {
		t.Fatalf("the user's pause was lifted: %+v", got)
	}
	expectState(t, e, id, "connected", "", "green")
	if m := mail.Next(t); !strings.Contains(m.Data, "recovered") {
		t.Fatalf("recovery:\n%s", m.Data)
	}
}

func lastError(t *testing.T, e *apptest.Env, id string) string {
	c, err := e.Store().ConnectionByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return c.LastError
}

// A sync that failed N times in a row alerts once; a good run closes it.
func TestSyncFailingInARowAlertsOnce(t *testing.T) {
	t.Parallel()
	mail := notifytest.Start(t, notifytest.Options{User: "patchbay", Password: "smtp-pw"})
	env := smtpEnv(mail)
	env["PATCHBAY_NOTIFY_SYNC_FAILURES"] = "2"
	e := apptest.Start(t, apptest.Options{Env: env})
	ctx := context.Background()
	id := e.ConnectOAuth("hubspot", "acct-n", nil)
	e.MustDo(201, "POST", "/notification-routes", map[string]any{"connection_id": id, "email": "ops@example.com", "events": []string{notify.KindSyncFailing, notify.KindRecovered}}, nil)
	y, _ := seedSyncs(t, e, id)
	run := func(status string, at time.Time) {
		t.Helper()
		r := &store.Run{SyncID: y.ID, WorkspaceID: app.DefaultWorkspace, Trigger: "schedule", Status: status, StartedAt: at, FinishedAt: at}
		if status == "failed" {
			r.ErrorClass, r.Error = "invalid", "property segment does not exist"
		}
		if err := e.Store().SaveRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now().Add(time.Minute)
	run("failed", start)
	sweep(t, e)
	run("failed", start.Add(time.Minute))
	sweep(t, e)
	sweep(t, e)
	if m := mail.Next(t); !strings.Contains(m.Data, "failed 2 times in a row") || !strings.Contains(m.Data, "segment does not exist") {
		t.Fatalf("alert:\n%s", m.Data)
	}
	run("succeeded", start.Add(2*time.Minute))
	sweep(t, e)
	if m := mail.Next(t); !strings.Contains(m.Data, "works again") {
		t.Fatalf("recovery:\n%s", m.Data)
	}
	if n := countEvents(t, e, id, "notification."+notify.KindSyncFailing); n != 1 {
		t.Fatalf("%d sync-failing notifications, want 1", n)
	}
}
