package app_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"patchbay/internal/app"
	"patchbay/internal/app/apptest"
	"patchbay/internal/catalog"
	fakeairtable "patchbay/internal/fakes/airtable"
	fakeshopify "patchbay/internal/fakes/shopify"
	"patchbay/internal/store"
)

// realtimeEnv is a Patchbay whose sweep runs often, so that a sync made due
// (the polling fallback) runs within a second.
func realtimeEnv(t *testing.T) *apptest.Env {
	return apptest.Start(t, apptest.Options{Env: map[string]string{"PATCHBAY_SWEEP_INTERVAL": "1s"}})
}

// waitFor polls cond until it holds (at most 20 s).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// subscriptions are a connection's realtime subscriptions as the store holds them.
func subscriptions(t *testing.T, e *apptest.Env, connID string) []*store.RealtimeSubscription {
	t.Helper()
	subs, err := e.Store().ConnectionSubscriptions(context.Background(), connID)
	if err != nil {
		t.Fatal(err)
	}
	return subs
}

type realtimeJSON struct {
	State         string `json:"state"`
	Method        string `json:"method"`
	Reason        string `json:"reason"`
	Label         string `json:"label"`
	Subscriptions []struct {
		Object     string `json:"object"`
		Status     string `json:"status"`
		Deliveries int64  `json:"deliveries"`
		Duplicates int64  `json:"duplicates"`
		Refused    int64  `json:"refused"`
	} `json:"subscriptions"`
}

func connRealtime(e *apptest.Env, connID string) realtimeJSON {
	e.T.Helper()
	var d struct {
		Realtime realtimeJSON `json:"realtime"`
	}
	e.MustDo(http.StatusOK, "GET", "/connections/"+connID, nil, &d)
	return d.Realtime
}

// post sends a notification to a callback URL and returns the status.
func post(t *testing.T, url string, header http.Header, body []byte) int {
	t.Helper()
	req, err := http.NewRequest("POST", url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// pollNow makes a sync due, as its polling schedule would.
func pollNow(t *testing.T, e *apptest.Env, syncID string) {
	t.Helper()
	if err := e.Store().SetNextRun(context.Background(), syncID, time.Now()); err != nil {
		t.Fatal(err)
	}
}

func TestShopifyRealtime(t *testing.T) {
	t.Parallel()
	e := realtimeEnv(t)
	premium(e)
	fake := shopifyFake(e)
	conn := e.ConnectOAuth("shopify", store1, map[string]string{"shop": store1})
	tbl := createTable(e, "email", "first")
	y := createSync(e, map[string]any{"direction": "inbound", "connection_id": conn, "table_id": tbl, "object": "customers",
		"mapping": []map[string]string{{"source": "email", "target": "email"}, {"source": "firstName", "target": "first"}}, "schedule": "realtime"})

	// Subscribe: one webhook subscription per topic, at the URL Patchbay made.
	shopSubs := func() []map[string]any {
		var out []map[string]any
		for _, s := range fake.Webhooks().Subscriptions {
			if s["shop"] == store1 {
				out = append(out, s)
			}
		}
		return out
	}
	waitFor(t, "the webhook subscriptions", func() bool { return len(shopSubs()) == 2 })
	callback := shopSubs()[0]["callbackUrl"].(string)
	if !strings.HasPrefix(callback, e.URL+"/webhooks/realtime/") {
		t.Fatalf("callback %s", callback)
	}
	waitRun(t, e, y, func(r *store.Run) bool { return r.Status == "succeeded" })
	if rt := connRealtime(e, conn); rt.State != "on" || rt.Method != "webhook" || rt.Label != "real time: on" {
		t.Fatalf("realtime = %+v", rt)
	}
	var sv struct {
		Realtime struct {
			Method        string  `json:"method"`
			Meaning       string  `json:"meaning"`
			ExpectedDelay float64 `json:"expected_delay_seconds"`
		} `json:"realtime"`
	}
	e.MustDo(http.StatusOK, "GET", "/syncs/"+y, nil, &sv)
	if sv.Realtime.Method != "webhook" || !strings.Contains(sv.Realtime.Meaning, "Shopify posts a webhook") || sv.Realtime.ExpectedDelay != 5 {
		t.Fatalf("sync realtime = %+v", sv.Realtime)
	}

	// Deliver: a customer created at the store arrives by webhook.
	e.Control("shopify", "records", map[string]any{"account": store1, "object": "customers",
		"records": []map[string]any{{"email": "new@acme.com", "firstName": "Nia"}}})
	waitRun(t, e, y, func(r *store.Run) bool { return r.Trigger == "webhook" && r.Created == 1 })

	// Verify: forged, replayed and duplicate deliveries.
	body := []byte(`{"id":1,"email":"x@y.com"}`)
	signed := func(id string, at time.Time) http.Header {
		h := http.Header{}
		h.Set("X-Shopify-Topic", "customers/update")
		h.Set("X-Shopify-Shop-Domain", store1)
		h.Set("X-Shopify-Webhook-Id", id)
		h.Set("X-Shopify-Triggered-At", at.UTC().Format(time.RFC3339Nano))
		h.Set("X-Shopify-Hmac-Sha256", fakeshopify.SignWebhook(body, "patchbay-demo-secret"))
		return h
	}
	forged := signed("forged-1", time.Now())
	forged.Set("X-Shopify-Hmac-Sha256", fakeshopify.SignWebhook(body, "not-the-secret"))
	if st := post(t, callback, forged, body); st != http.StatusUnauthorized {
		t.Fatalf("forged signature: %d", st)
	}
	if st := post(t, callback, signed("old-1", time.Now().Add(-25*time.Hour)), body); st != http.StatusUnauthorized {
		t.Fatalf("replay of a day-old delivery: %d", st)
	}
	wrongToken := callback[:strings.LastIndex(callback, "/")+1] + "0000"
	if st := post(t, wrongToken, signed("tok-1", time.Now()), body); st != http.StatusUnauthorized {
		t.Fatalf("wrong URL token: %d", st)
	}
	before := connRealtime(e, conn)
	for range 3 {
		if st := post(t, callback, signed("dup-1", time.Now()), body); st != http.StatusOK {
			t.Fatalf("delivery: %d", st)
		}
	}
	after := connRealtime(e, conn)
	var dups, refused, delivered int64
	for i, s := range after.Subscriptions {
		dups += s.Duplicates - before.Subscriptions[i].Duplicates
		delivered += s.Deliveries - before.Subscriptions[i].Deliveries
		refused += s.Refused
	}
	if dups != 2 || delivered != 1 || refused != 3 {
		t.Fatalf("duplicates %d, deliveries %d, refused %d", dups, delivered, refused)
	}
	if rows := allRows(e, tbl, ""); len(rows) != 1 {
		t.Fatalf("rows %d", len(rows))
	}

	// Deliveries stop (Shopify deleted the subscriptions): the poll still
	// brings new customers, and the check makes new subscriptions.
	fake.DropWebhooks(store1)
	e.Control("shopify", "records", map[string]any{"account": store1, "object": "customers",
		"records": []map[string]any{{"email": "quiet@acme.com", "firstName": "Quinn"}}})
	pollNow(t, e, y)
	waitRun(t, e, y, func(r *store.Run) bool { return r.Trigger == "schedule" && r.Created == 1 })
	if err := e.App.Conns.ReconcileRealtime(context.Background(), conn); err != nil {
		t.Fatal(err)
	}
	if len(shopSubs()) != 2 {
		t.Fatalf("subscriptions after the check: %v", shopSubs())
	}
	if rt := connRealtime(e, conn); rt.State != "on" || !strings.Contains(rt.Subscriptions[0].Status, "on") {
		t.Fatalf("after renewal: %+v", rt)
	}
	e.Control("shopify", "records", map[string]any{"account": store1, "object": "customers",
		"records": []map[string]any{{"email": "back@acme.com", "firstName": "Bea"}}})
	waitFor(t, "the third customer", func() bool { return len(allRows(e, tbl, "")) == 3 })

	// Disconnect removes the subscriptions at Shopify.
	e.MustDo(http.StatusOK, "POST", "/connections/"+conn+"/disconnect", nil, nil)
	if n := len(shopSubs()); n != 0 {
		t.Fatalf("%d subscriptions left after disconnect", n)
	}
	if n := len(subscriptions(t, e, conn)); n != 0 {
		t.Fatalf("%d subscription rows left after disconnect", n)
	}
}

// deliveryCounts sums a connection's subscription counters.
func deliveryCounts(rt realtimeJSON) (delivered, dups, refused int64) {
	for _, s := range rt.Subscriptions {
		delivered += s.Deliveries
		dups += s.Duplicates
		refused += s.Refused
	}
	return
}

func TestMailchimpRealtime(t *testing.T) {
	t.Parallel()
	e := realtimeEnv(t)
	premium(e)
	fake := mailchimpFake(e)
	const acct = "acct-demo"
	list := fake.Audiences(acct)[0].ID
	conn := e.ConnectOAuth("mailchimp", acct, nil)
	tbl := createTable(e, "email", "first")
	y := createSync(e, map[string]any{"direction": "inbound", "connection_id": conn, "table_id": tbl, "object": "members",
		"mapping": []map[string]string{{"source": "email_address", "target": "email"}, {"source": "FNAME", "target": "first"}}, "schedule": "realtime"})

	// Subscribe: a list webhook on the audience, at a URL Mailchimp checked with a GET.
	waitFor(t, "the list webhook", func() bool {
		subs := subscriptions(t, e, conn)
		if len(subs) > 0 && strings.Contains(subs[0].Reason, "refused") {
			t.Fatalf("subscription degraded: %s", subs[0].Reason)
		}
		return len(fake.ListWebhooks(acct)) == 1
	})
	hook := fake.ListWebhooks(acct)[0]
	if hook.ListID != list || !strings.HasPrefix(hook.URL, e.URL+"/webhooks/realtime/") || !hook.Events["subscribe"] || !hook.Events["profile"] || !hook.Events["upemail"] {
		t.Fatalf("webhook %+v", hook)
	}
	waitRun(t, e, y, func(r *store.Run) bool { return r.Status == "succeeded" })

	// Deliver: a new member arrives by webhook (form-encoded, unsigned).
	fake.SeedMembers(acct, list, []map[string]any{{"email_address": "new@list.com", "status": "subscribed", "FNAME": "Nia"}})
	waitRun(t, e, y, func(r *store.Run) bool { return r.Trigger == "webhook" && r.Created == 1 })
	if rt := connRealtime(e, conn); rt.State != "on" {
		t.Fatalf("realtime %+v", rt)
	}

	// Verify: the URL's token is the secret; the body must be an event, recent.
	form := func(at time.Time) []byte {
		return []byte("type=profile&fired_at=" + strings.ReplaceAll(at.UTC().Format("2006-01-02 15:04:05"), " ", "+") +
			"&data%5Bemail%5D=new%40list.com&data%5Blist_id%5D=" + list)
	}
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	wrong := hook.URL[:strings.LastIndex(hook.URL, "/")+1] + "guess"
	if st := post(t, wrong, h, form(time.Now())); st != http.StatusUnauthorized {
		t.Fatalf("wrong URL secret: %d", st)
	}
	if st := post(t, hook.URL, h, []byte("hello=world")); st != http.StatusUnauthorized {
		t.Fatalf("not an event: %d", st)
	}
	if st := post(t, hook.URL, h, form(time.Now().Add(-48*time.Hour))); st != http.StatusUnauthorized {
		t.Fatalf("replay: %d", st)
	}
	d0, dup0, _ := deliveryCounts(connRealtime(e, conn))
	body := form(time.Now())
	for range 3 {
		if st := post(t, hook.URL, h, body); st != http.StatusOK {
			t.Fatalf("delivery: %d", st)
		}
	}
	d1, dup1, refused := deliveryCounts(connRealtime(e, conn))
	if d1-d0 != 1 || dup1-dup0 != 2 || refused != 3 {
		t.Fatalf("deliveries +%d, duplicates +%d, refused %d", d1-d0, dup1-dup0, refused)
	}
	if resp, err := http.Get(hook.URL); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("Mailchimp's URL check: %v %v", resp, err)
	}

	// Deliveries stop (the webhook was deleted in Mailchimp): the poll brings
	// the member; the check makes a new webhook.
	fake.DropWebhooks(acct)
	fake.SeedMembers(acct, list, []map[string]any{{"email_address": "quiet@list.com", "status": "subscribed", "FNAME": "Quinn"}})
	pollNow(t, e, y)
	waitRun(t, e, y, func(r *store.Run) bool { return r.Trigger == "schedule" && r.Created == 1 })
	if err := e.App.Conns.ReconcileRealtime(context.Background(), conn); err != nil {
		t.Fatal(err)
	}
	if n := len(fake.ListWebhooks(acct)); n != 1 {
		t.Fatalf("%d webhooks after the check", n)
	}
	fake.SeedMembers(acct, list, []map[string]any{{"email_address": "back@list.com", "status": "subscribed", "FNAME": "Bea"}})
	waitFor(t, "the third member", func() bool { return len(allRows(e, tbl, "")) == 3 })

	// Disconnect removes the webhook.
	e.MustDo(http.StatusOK, "POST", "/connections/"+conn+"/disconnect", nil, nil)
	if n := len(fake.ListWebhooks(acct)); n != 0 {
		t.Fatalf("%d webhooks left after disconnect", n)
	}
}

func TestAirtableRealtime(t *testing.T) {
	t.Parallel()
	// The fake's clock runs 6½ days behind, so that a webhook made now is a
	// half day from expiry once the clock catches up. It keeps running: the
	// fake's rate windows need time to pass.
	var offset atomic.Int64
	offset.Store(int64(-156 * time.Hour))
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	advance := func(d time.Duration) { offset.Add(int64(d)) }
	var fake *fakeairtable.Fake
	const acct = "acct-rt"
	base := fakeairtable.BaseID(acct, 1)
	// Until tables come from the base's schema (issue 13), the table is
	// named in the catalog.
	withTable := func(c *catalog.Catalog) *catalog.Catalog {
		p, _ := c.Get("airtable")
		cp := *p
		cp.Objects = append(slices.Clone(p.Objects), catalog.Object{Name: base + "/Contacts", ReadScope: "data.records:read",
			WriteScope: "data.records:write", MatchFields: []string{"id", "Email"}, Fields: []string{"Name", "Email", "Company", "Segment"}})
		return c.WithProvider(&cp)
	}
	e := apptest.Start(t, apptest.Options{Env: map[string]string{"PATCHBAY_SWEEP_INTERVAL": "1s"}, Catalog: withTable, Fakes: func() map[string]app.Fake {
		fakes := app.DemoFakes()
		at := fakes["airtable"]
		fake = fakeairtable.New(fakeairtable.Options{ClientID: at.ClientID, ClientSecret: at.ClientSecret, Now: now})
		at.Handler = fake
		fakes["airtable"] = at
		return fakes
	}})
	conn := e.ConnectOAuth("airtable", acct, map[string]string{"base_ids": base})
	tbl := createTable(e, "email", "name")
	y := createSync(e, map[string]any{"direction": "inbound", "connection_id": conn, "table_id": tbl, "object": base + "/Contacts",
		"mapping": []map[string]string{{"source": "Email", "target": "email"}, {"source": "Name", "target": "name"}}, "schedule": "realtime"})

	// Subscribe: a webhook on the Contacts table, its MAC secret sealed.
	waitFor(t, "the webhook", func() bool {
		subs := subscriptions(t, e, conn)
		if len(subs) > 0 && strings.Contains(subs[0].Reason, "refused") {
			t.Fatalf("subscription degraded: %s", subs[0].Reason)
		}
		return len(subs) == 1 && subs[0].Status == store.SubscriptionOn
	})
	hooks := fake.Webhooks(acct)
	if len(hooks) != 1 || hooks[0].Table == "" || !strings.HasPrefix(hooks[0].URL, e.URL+"/webhooks/realtime/") {
		t.Fatalf("webhooks %+v", hooks)
	}
	hook := hooks[0]
	sub := subscriptions(t, e, conn)[0]
	if len(sub.Secret) == 0 || bytes.Contains(sub.Secret, []byte(base64.StdEncoding.EncodeToString(hook.Secret))) {
		t.Fatal("the MAC secret is not stored sealed")
	}
	waitRun(t, e, y, func(r *store.Run) bool { return r.Status == "succeeded" })

	// Renewal: with the clock caught up the webhook expires in 12 hours;
	// the check refreshes it for 7 days.
	advance(156 * time.Hour)
	if err := e.App.Conns.ReconcileRealtime(context.Background(), conn); err != nil {
		t.Fatal(err)
	}
	if exp := fake.WebhookExpires(hook.ID); exp.Before(time.Now().Add(6 * 24 * time.Hour)) {
		t.Fatalf("not renewed: expires %s", exp)
	}

	// Deliver: a record created at Airtable pings; Patchbay reads the
	// payloads (the cursor moves) and the record.
	if _, err := fake.SeedRecords(acct, base, "Contacts", []map[string]any{{"Name": "Nia", "Email": "nia@at.com"}}); err != nil {
		t.Fatal(err)
	}
	waitRun(t, e, y, func(r *store.Run) bool { return r.Trigger == "webhook" && r.Created == 1 })
	waitFor(t, "the payload cursor", func() bool { return subscriptions(t, e, conn)[0].Cursor == "2" })

	// Verify: a ping with a bad MAC, a replayed old one, duplicates.
	ping := func(ts time.Time) []byte {
		return []byte(`{"base":{"id":"` + base + `"},"webhook":{"id":"` + hook.ID + `"},"timestamp":"` + ts.UTC().Format(time.RFC3339Nano) + `"}`)
	}
	mac := func(body []byte) http.Header {
		return http.Header{"Content-Type": {"application/json"}, "X-Airtable-Content-Mac": {fakeairtable.SignPing(hook.Secret, body)}}
	}
	fresh := ping(time.Now())
	if st := post(t, hook.URL, http.Header{"X-Airtable-Content-Mac": {fakeairtable.SignPing([]byte("forged"), fresh)}}, fresh); st != http.StatusUnauthorized {
		t.Fatalf("forged MAC: %d", st)
	}
	old := ping(time.Now().Add(-30 * time.Hour))
	if st := post(t, hook.URL, mac(old), old); st != http.StatusUnauthorized {
		t.Fatalf("replay: %d", st)
	}
	d0, dup0, _ := deliveryCounts(connRealtime(e, conn))
	for range 3 {
		if st := post(t, hook.URL, mac(fresh), fresh); st != http.StatusOK {
			t.Fatalf("ping: %d", st)
		}
	}
	d1, dup1, refused := deliveryCounts(connRealtime(e, conn))
	if d1-d0 != 1 || dup1-dup0 != 2 || refused != 2 {
		t.Fatalf("deliveries +%d, duplicates +%d, refused %d", d1-d0, dup1-dup0, refused)
	}

	// Expiry: 8 days on, Airtable has disabled the webhook and pings no
	// more; the poll brings the record, the check makes a new webhook.
	advance(8 * 24 * time.Hour)
	if _, err := fake.SeedRecords(acct, base, "Contacts", []map[string]any{{"Name": "Quinn", "Email": "quinn@at.com"}}); err != nil {
		t.Fatal(err)
	}
	pollNow(t, e, y)
	waitRun(t, e, y, func(r *store.Run) bool { return r.Trigger == "schedule" && r.Created == 1 })
	if err := e.App.Conns.ReconcileRealtime(context.Background(), conn); err != nil {
		t.Fatal(err)
	}
	if rt := connRealtime(e, conn); rt.State != "on" {
		t.Fatalf("after renewal: %+v", rt)
	}
	if _, err := fake.SeedRecords(acct, base, "Contacts", []map[string]any{{"Name": "Bea", "Email": "bea@at.com"}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the third record", func() bool { return len(allRows(e, tbl, "")) == 3 })

	// Disconnect deletes the webhooks at Airtable.
	e.MustDo(http.StatusOK, "POST", "/connections/"+conn+"/disconnect", nil, nil)
	if n := len(fake.Webhooks(acct)); n != 0 {
		t.Fatalf("%d webhooks left after disconnect", n)
	}
}
