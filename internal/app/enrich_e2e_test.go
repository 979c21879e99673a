package app_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"patchbay/internal/app"
	"patchbay/internal/app/apptest"
	"patchbay/internal/connector/hubspot"
	"patchbay/internal/enrich"
	fakedp "patchbay/internal/fakes/dataprovider"
	fakehubspot "patchbay/internal/fakes/hubspot"
)

// deliverHubSpotWebhook plays HubSpot's webhook delivery: a signed (v3)
// POST of contact.creation events to Patchbay's receiver.
func deliverHubSpotWebhook(t *testing.T, e *apptest.Env, account string, objectIDs ...string) {
	t.Helper()
	var events []hubspot.WebhookEvent
	for i, id := range objectIDs {
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, hubspot.WebhookEvent{EventID: int64(i + 1), PortalID: fakehubspot.HubID(account), ObjectID: n,
			SubscriptionType: "contact.creation", OccurredAt: time.Now().UnixMilli(), AttemptNumber: 0})
	}
	body, _ := json.Marshal(events)
	u := e.URL + "/webhooks/hubspot"
	ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
	req, _ := http.NewRequest("POST", u, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(hubspot.TimestampHeader, ts)
	req.Header.Set(hubspot.SignatureHeader, hubspot.Sign(e.Fakes["hubspot"].ClientSecret, "POST", u, body, ts))
	resp, err := e.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("webhook: %d", resp.StatusCode)
	}
}

// TestLeadEnrichedAndPushedBackWithoutAClick is the seed's example: a lead
// created in HubSpot arrives by the realtime inbound sync, the action
// column asks the data provider about its e-mail, and the outbound
// realtime sync writes the answers back to the HubSpot contact. Nothing
// but the configuration is done through the API.
func TestLeadEnrichedAndPushedBackWithoutAClick(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{Enrich: func(c *enrich.Config) { c.Tick = 50 * time.Millisecond }})
	const account = "acct-loop"
	hs := e.ConnectOAuth("hubspot", account, nil)
	var dp struct{ Connection apptest.Connection }
	e.MustDo(http.StatusCreated, "POST", "/connections", map[string]any{"provider": "dataprovider",
		"config": map[string]string{"endpoint_url": e.URL + "/_fakes/dataprovider"}, "api_key": app.DemoDataProviderKey}, &dp)

	var tb struct{ ID string }
	e.MustDo(http.StatusCreated, "POST", "/tables", map[string]any{"name": "Leads", "columns": []map[string]string{
		{"name": "email", "type": "text"}, {"name": "firstname", "type": "text"}, {"name": "company", "type": "text"},
		{"name": "phone", "type": "text"}, {"name": "jobtitle", "type": "text"}}}, &tb)
	e.MustDo(http.StatusCreated, "POST", "/syncs", map[string]any{"direction": "inbound", "connection_id": hs, "table_id": tb.ID,
		"object": "contacts", "schedule": "realtime", "mapping": []map[string]string{
			{"source": "email", "target": "email"}, {"source": "firstname", "target": "firstname"}, {"source": "company", "target": "company"}}}, nil)
	e.MustDo(http.StatusCreated, "POST", "/tables/"+tb.ID+"/columns", map[string]any{"name": "Person", "type": "action", "action": map[string]any{
		"connection_ids": []string{dp.Connection.ID}, "lookup": "person_by_email", "inputs": map[string]string{"email": "email"},
		"outputs": map[string]string{"phone": "phone", "title": "jobtitle", "company": "company"}}}, nil)
	e.MustDo(http.StatusCreated, "POST", "/syncs", map[string]any{"direction": "outbound", "connection_id": hs, "table_id": tb.ID,
		"object": "contacts", "schedule": "realtime", "match_key": "external_id", "mapping": []map[string]string{
			{"source": "phone", "target": "phone"}, {"source": "jobtitle", "target": "jobtitle"}, {"source": "company", "target": "company"}}}, nil)

	fake := e.Fakes["hubspot"].Handler.(*fakehubspot.Fake)
	start := time.Now()
	recs, err := fake.SeedRecords(account, "contacts", []map[string]any{{"email": "ann.lee@northwind.com", "firstname": "Ann"}})
	if err != nil {
		t.Fatal(err)
	}
	deliverHubSpotWebhook(t, e, account, recs[0].ID)

	want, _ := fakedpPerson("ann.lee@northwind.com")
	deadline := time.Now().Add(30 * time.Second)
	for {
		var got map[string]string
		for _, r := range fake.Records(account, "contacts") {
			if r.ID == recs[0].ID {
				got = r.Fields
			}
		}
		if got["phone"] == want["phone"] && got["jobtitle"] == want["title"] && got["company"] == want["company"] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the contact was not enriched at HubSpot within 30s: %v (want %v)", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("lead created at HubSpot → enriched fields written back to HubSpot: %s", time.Since(start).Round(time.Millisecond))
}

// fakedpPerson is what the data provider fake answers for an e-mail, read
// from the fake itself so the test does not restate its made-up data.
func fakedpPerson(email string) (map[string]string, bool) {
	f := fakedp.New(fakedp.Options{DemoKey: "k"})
	body, _ := json.Marshal(map[string]any{"lookup": "person_by_email", "input": map[string]string{"email": email}})
	req, _ := http.NewRequest("POST", "/v1/lookup", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer k")
	rec := httptest.NewRecorder()
	f.ServeHTTP(rec, req)
	var out struct {
		Found bool              `json:"found"`
		Data  map[string]string `json:"data"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	return out.Data, out.Found
}
