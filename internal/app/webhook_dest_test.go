package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"patchbay/internal/app/apptest"
	"patchbay/internal/connector/webhook"
	"patchbay/internal/signing"
	"patchbay/internal/store"
)

// signedReceiver is a Zapier-style catch hook: it keeps the events whose
// signature verifies with the secret it is given once connected, and
// refuses (401) the others.
type signedReceiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	secret string
	events []webhook.Event
	bad    int
	got    chan struct{}
}

func newSignedReceiver(t *testing.T) *signedReceiver {
	rc := &signedReceiver{got: make(chan struct{}, 100)}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts, _ := strconv.ParseInt(r.Header.Get(signing.HeaderTimestamp), 10, 64)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if rc.secret == "" || !signing.Verify([]byte(rc.secret), ts, body, r.Header.Get(signing.HeaderSignature)) {
			rc.bad++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var ev webhook.Event
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Errorf("event %s: %v", body, err)
		}
		rc.events = append(rc.events, ev)
		rc.got <- struct{}{}
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

// TestWebhookDestination: connecting a webhook destination returns its
// signing secret once, stores it encrypted only, and a realtime outbound sync
// pushes each new or changed row as a signed event; a disconnect deletes the
// secret for good.
func TestWebhookDestination(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	rc := newSignedReceiver(t)
	var out struct {
		Connection struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"connection"`
		SigningSecret string `json:"signing_secret"`
	}
	e.MustDo(201, "POST", "/connections", map[string]any{"provider": "webhook", "config": map[string]string{"url": rc.srv.URL + "/hooks/catch/1"}}, &out)
	secret, id := out.SigningSecret, out.Connection.ID
	if !strings.HasPrefix(secret, "pbw_") || len(secret) < 20 || out.Connection.Status != "connected" {
		t.Fatalf("connect answered %+v", out)
	}
	rc.mu.Lock()
	rc.secret = secret
	rc.mu.Unlock()
	for _, path := range []string{"/connections/" + id, "/connections", "/events?connection_id=" + id} {
		if body := e.MustDo(200, "GET", path, nil, nil); strings.Contains(body, secret) {
			t.Fatalf("GET %s returns the signing secret", path)
		}
	}
	if bytes.Contains(e.RawData(), []byte(secret)) {
		t.Fatal("the signing secret is stored in clear")
	}
	if _, err := e.Store().Credential(context.Background(), id); err != nil {
		t.Fatalf("no sealed secret stored: %v", err)
	}

	// An inbound sync of a destination is refused with the reason.
	tbl := createTable(e, "email", "first")
	mapping := []map[string]string{{"source": "email", "target": "email"}, {"source": "first", "target": "first_name"}}
	st, body := e.Do("POST", "/syncs", map[string]any{"direction": "inbound", "connection_id": id, "table_id": tbl, "object": "events",
		"mapping": []map[string]string{{"source": "email", "target": "email"}}}, nil)
	if st != http.StatusUnprocessableEntity || !strings.Contains(body, "outbound") {
		t.Fatalf("inbound sync of a webhook: %d %s", st, body)
	}

	y := createSync(e, map[string]any{"direction": "outbound", "connection_id": id, "table_id": tbl, "object": "events",
		"mapping": mapping, "schedule": "realtime"})
	var rows struct {
		Rows []rowJSON `json:"rows"`
	}
	e.MustDo(201, "POST", "/tables/"+tbl+"/rows", map[string]any{"rows": []map[string]any{
		{"values": map[string]any{"email": "ann@x.com", "first": "Ann"}},
		{"values": map[string]any{"email": "bob@x.com", "first": "Bob"}},
	}}, &rows)
	waitRun(t, e, y, func(r *store.Run) bool { return r.Created == 2 && r.Status == "succeeded" })
	e.MustDo(200, "PATCH", "/tables/"+tbl+"/rows/"+rows.Rows[0].ID, map[string]any{"values": map[string]any{"first": "Anna"}}, nil)
	waitRun(t, e, y, func(r *store.Run) bool { return r.Updated == 1 && r.Status == "succeeded" })

	rc.mu.Lock()
	evs, bad := append([]webhook.Event(nil), rc.events...), rc.bad
	rc.mu.Unlock()
	if bad != 0 || len(evs) != 3 {
		t.Fatalf("%d unsigned requests; events %+v", bad, evs)
	}
	byRow := map[string][]webhook.Event{}
	for _, ev := range evs {
		if ev.TableID != tbl {
			t.Errorf("event of table %q", ev.TableID)
		}
		byRow[ev.RowID] = append(byRow[ev.RowID], ev)
	}
	ann := byRow[rows.Rows[0].ID]
	if len(ann) != 2 || ann[0].Event != "row.created" || ann[0].Row["email"] != "ann@x.com" || ann[0].Row["first_name"] != "Ann" ||
		ann[1].Event != "row.updated" || ann[1].Row["first_name"] != "Anna" {
		t.Fatalf("events of Ann's row %+v", ann)
	}
	if bob := byRow[rows.Rows[1].ID]; len(bob) != 1 || bob[0].Event != "row.created" {
		t.Fatalf("events of Bob's row %+v", bob)
	}

	// Disconnect deletes the secret: nothing can sign for this destination again.
	e.MustDo(200, "POST", "/connections/"+id+"/disconnect", nil, nil)
	if _, err := e.Store().Credential(context.Background(), id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("credential after disconnect: %v", err)
	}
	if bytes.Contains(e.RawData(), []byte(secret)) {
		t.Fatal("the signing secret is in the database after disconnect")
	}
}

// TestWebhookDestinationGuarded: without PATCHBAY_ALLOW_PRIVATE_NETWORKS a
// destination on loopback is refused at dial time; the run says why, and
// the connection, which no probe could turn green again, stays as it was.
func TestWebhookDestinationGuarded(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{Env: map[string]string{"PATCHBAY_ALLOW_PRIVATE_NETWORKS": "false"}})
	rc := newSignedReceiver(t)
	var out struct {
		Connection struct {
			ID string `json:"id"`
		} `json:"connection"`
	}
	e.MustDo(201, "POST", "/connections", map[string]any{"provider": "webhook", "config": map[string]string{"url": rc.srv.URL}}, &out)
	tbl := createTable(e, "email")
	e.MustDo(201, "POST", "/tables/"+tbl+"/rows", map[string]any{"rows": []map[string]any{{"values": map[string]any{"email": "a@x.com"}}}}, nil)
	y := createSync(e, map[string]any{"direction": "outbound", "connection_id": out.Connection.ID, "table_id": tbl, "object": "events",
		"mapping": []map[string]string{{"source": "email", "target": "email"}}})
	r := runSync(e, y, nil)
	if r.Status != "failed" || r.ErrorClass != "unavailable" || !strings.Contains(r.Error, "PATCHBAY_ALLOW_PRIVATE_NETWORKS") {
		t.Fatalf("run %+v", r)
	}
	if c := e.Connection(out.Connection.ID); c.Status != "connected" {
		t.Fatalf("connection %s/%s", c.Status, c.Reason)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.events)+rc.bad != 0 {
		t.Fatal("a guarded delivery reached the loopback receiver")
	}
}
