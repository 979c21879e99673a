package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"patchbay/internal/connector"
	"patchbay/internal/connector/webhook"
	"patchbay/internal/netguard"
	"patchbay/internal/signing"
	"patchbay/internal/transport"
)

const secret = "pbw_test-secret"

// delivery is one request the receiver accepted as correctly signed.
type delivery struct {
	ID    string
	Event webhook.Event
}

// receiver is an httptest server that verifies every request's signature
// and freshness, fails requests as told by fail (by row id), and keeps the
// valid deliveries.
type receiver struct {
	srv  *httptest.Server
	mu   sync.Mutex
	got  []delivery
	seen map[string]int // delivery id → attempts
	fail func(rowID string, attempt int) int
}

func newReceiver(t *testing.T, fail func(rowID string, attempt int) int) *receiver {
	rc := &receiver{seen: map[string]int{}, fail: fail}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts, err := strconv.ParseInt(r.Header.Get(signing.HeaderTimestamp), 10, 64)
		if err != nil || time.Since(time.Unix(ts, 0)).Abs() > 5*time.Minute {
			t.Errorf("timestamp %q is missing or stale", r.Header.Get(signing.HeaderTimestamp))
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if !signing.Verify([]byte(secret), ts, body, r.Header.Get(signing.HeaderSignature)) {
			t.Errorf("signature %q does not verify", r.Header.Get(signing.HeaderSignature))
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Authorization") != "" {
			t.Errorf("request %s content type %q authorization %q", r.Method, r.Header.Get("Content-Type"), r.Header.Get("Authorization"))
		}
		var ev webhook.Event
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Errorf("body %s: %v", body, err)
		}
		if r.Header.Get(signing.HeaderEvent) != ev.Event {
			t.Errorf("event header %q, body %q", r.Header.Get(signing.HeaderEvent), ev.Event)
		}
		id := r.Header.Get(signing.HeaderDelivery)
		rc.mu.Lock()
		rc.seen[id]++
		attempt := rc.seen[id]
		rc.mu.Unlock()
		if rc.fail != nil {
			if st := rc.fail(ev.RowID, attempt); st != 0 {
				w.WriteHeader(st)
				return
			}
		}
		rc.mu.Lock()
		rc.got = append(rc.got, delivery{ID: id, Event: ev})
		rc.mu.Unlock()
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func session(url string, guard bool) connector.Session {
	tr := transport.New(transport.Options{Base: netguard.Transport(!guard), Budget: transport.NewBudget(0, 0), Retries: 3})
	return connector.Session{HTTP: tr.Client(), BaseURL: url, Config: map[string]string{"url": url},
		Creds: connector.Credentials{Extra: map[string]string{connector.SigningSecretKey: secret}}}
}

func TestWriteDeliversSignedEvents(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, func(rowID string, attempt int) int {
		switch {
		case rowID == "row_flaky" && attempt == 1:
			return http.StatusServiceUnavailable // retried by the transport, same delivery id
		case rowID == "row_refused":
			return http.StatusUnprocessableEntity // this row fails, the others go on
		}
		return 0
	})
	c := webhook.New()
	res, err := c.Write(context.Background(), session(rc.srv.URL+"/hooks/catch", false), connector.WriteRequest{
		Object: "events", Table: "tbl_1", RowIDs: []string{"row_new", "row_flaky", "row_refused", "row_old"},
		Records: []connector.Record{
			{Fields: map[string]any{"email": "a@x.com", "first": "Ann"}},
			{Fields: map[string]any{"email": "b@x.com"}},
			{Fields: map[string]any{"email": "c@x.com"}},
			{ID: "row_old", Fields: map[string]any{"first": "Otto"}},
		}})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		id      string
		created bool
		failed  bool
	}{{"row_new", true, false}, {"row_flaky", true, false}, {"", false, true}, {"row_old", false, false}}
	if len(res) != len(want) {
		t.Fatalf("results %+v", res)
	}
	for i, w := range want {
		if res[i].Index != i || res[i].ID != w.id || res[i].Created != w.created || (res[i].Err != nil) != w.failed {
			t.Errorf("result %d = %+v, want %+v", i, res[i], w)
		}
	}
	if connector.ClassOf(res[2].Err) != connector.ClassInvalid {
		t.Errorf("refused row: %v", res[2].Err)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.got) != 3 {
		t.Fatalf("deliveries %+v", rc.got)
	}
	first := rc.got[0].Event
	if first.Event != webhook.EventRowCreated || first.TableID != "tbl_1" || first.RowID != "row_new" || first.Row["first"] != "Ann" || first.SentAt.IsZero() {
		t.Errorf("first event %+v", first)
	}
	if ev := rc.got[2].Event; ev.Event != webhook.EventRowUpdated || ev.RowID != "row_old" || ev.Row["first"] != "Otto" {
		t.Errorf("update event %+v", ev)
	}
	if n := rc.seen[rc.got[1].ID]; n != 2 {
		t.Errorf("the flaky delivery arrived %d times, want 2 (one 503, one retry with the same id)", n)
	}
}

func TestWriteStopsWhenTheDestinationFails(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		class  connector.Class
	}{
		{"down", http.StatusBadGateway, connector.ClassUnavailable},
		{"deleted hook", http.StatusGone, connector.ClassNotFound},
		{"refused", http.StatusUnauthorized, connector.ClassUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rc := newReceiver(t, func(rowID string, _ int) int {
				if rowID == "row_2" {
					return tt.status
				}
				return 0
			})
			res, err := webhook.New().Write(context.Background(), session(rc.srv.URL, false), connector.WriteRequest{Object: "events", Table: "tbl",
				RowIDs: []string{"row_1", "row_2", "row_3"}, Records: []connector.Record{{Fields: map[string]any{"a": "1"}}, {Fields: map[string]any{"a": "2"}}, {Fields: map[string]any{"a": "3"}}}})
			if connector.ClassOf(err) != tt.class {
				t.Fatalf("err %v, want class %s", err, tt.class)
			}
			if len(res) != 1 || res[0].ID != "row_1" {
				t.Fatalf("results before the failure %+v", res)
			}
		})
	}
}

// TestNetworkGuard: a destination URL is user input; with the guard on (the
// default outside tests and the demo), a loopback receiver is refused at
// dial time and the error says how to allow it.
func TestNetworkGuard(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	_, err := webhook.New().Write(context.Background(), session(rc.srv.URL, true), connector.WriteRequest{Object: "events", Table: "tbl",
		RowIDs: []string{"row_1"}, Records: []connector.Record{{Fields: map[string]any{"a": "1"}}}})
	if netguard.AsBlocked(err) == nil || connector.ClassOf(err) != connector.ClassUnavailable {
		t.Fatalf("err %v, want a refused dial", err)
	}
	if len(rc.got) != 0 {
		t.Fatal("the guarded delivery reached the loopback receiver")
	}
}

func TestWithoutSecretOrRead(t *testing.T) {
	t.Parallel()
	c := webhook.New()
	s := session("https://hooks.example.com/catch", false)
	if acct, err := c.Identity(context.Background(), s); err != nil || acct.ID != "hooks.example.com" {
		t.Fatalf("identity %+v %v", acct, err)
	}
	if _, err := c.List(context.Background(), s, connector.ListRequest{Object: "events"}); connector.ClassOf(err) != connector.ClassInvalid {
		t.Fatalf("list: %v", err)
	}
	s.Creds = connector.Credentials{}
	if _, err := c.Write(context.Background(), s, connector.WriteRequest{Records: []connector.Record{{}}}); err == nil {
		t.Fatal("a write without a signing secret went out")
	}
}
