package bridge_test

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"patchbay/internal/app/apptest"
	"patchbay/internal/bridge"
)

type hook struct {
	ID            string `json:"id"`
	URL           string `json:"url"`
	SigningSecret string `json:"signing_secret"`
	Signed        bool   `json:"signed"`
}

func setup(t *testing.T, hookBody map[string]any) (*apptest.Env, string, hook) {
	t.Helper()
	e := apptest.Start(t, apptest.Options{})
	var tb struct{ ID string }
	e.MustDo(http.StatusCreated, "POST", "/tables", map[string]any{"name": "Inbox", "columns": []map[string]string{
		{"name": "email", "type": "text"}, {"name": "name", "type": "text"}, {"name": "score", "type": "number"}}}, &tb)
	var h hook
	e.MustDo(http.StatusCreated, "POST", "/tables/"+tb.ID+"/hooks", hookBody, &h)
	if !strings.Contains(h.URL, "/hooks/pbh_") {
		t.Fatalf("hook: %+v", h)
	}
	return e, tb.ID, h
}

func post(t *testing.T, url string, body []byte, header map[string]string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func rows(t *testing.T, e *apptest.Env, tableID string) []map[string]any {
	t.Helper()
	var out struct {
		Rows []struct {
			Values map[string]any `json:"values"`
		} `json:"rows"`
	}
	e.MustDo(http.StatusOK, "GET", "/tables/"+tableID+"/rows", nil, &out)
	var vals []map[string]any
	for _, r := range out.Rows {
		vals = append(vals, r.Values)
	}
	return vals
}

func TestInboundHookCreatesAndUpserts(t *testing.T) {
	t.Parallel()
	e, tb, h := setup(t, map[string]any{"match_column": "email"})
	steps := []struct {
		name   string
		body   string
		status int
		want   string
		rows   int
	}{
		{"create one", `{"email":"ann@x.com","name":"Ann","score":"7","zap_id":123}`, 200, `"created":1`, 1},
		{"update by match column, unknown fields ignored", `{"email":"ann@x.com","name":"Ann Lee","extra":{"a":1}}`, 200, `"updated":1`, 1},
		{"same again is unchanged", `{"email":"ann@x.com","name":"Ann Lee"}`, 200, `"unchanged":1`, 1},
		{"an array", `[{"email":"bob@x.com","score":3},{"email":"cy@x.com"}]`, 200, `"created":2`, 3},
		{"malformed JSON", `{"email":"dan@x.com",`, 400, "Malformed JSON", 3},
		{"trailing data", `{"email":"dan@x.com"} {}`, 400, "Malformed JSON", 3},
		{"a value of the wrong type writes nothing", `[{"email":"eve@x.com"},{"email":"fay@x.com","score":"many"}]`, 422, `"field":"[1].score"`, 3},
		{"the match column is needed", `{"name":"Nobody"}`, 422, `"field":"[0].email"`, 3},
	}
	for _, s := range steps {
		st, body := post(t, h.URL, []byte(s.body), nil)
		if st != s.status || !strings.Contains(body, s.want) {
			t.Fatalf("%s: %d %s, want %d with %s", s.name, st, body, s.status, s.want)
		}
		if n := len(rows(t, e, tb)); n != s.rows {
			t.Fatalf("%s: %d rows, want %d", s.name, n, s.rows)
		}
	}
	for _, r := range rows(t, e, tb) {
		if r["email"] == "ann@x.com" && (r["name"] != "Ann Lee" || r["score"] != 7.0 || r["zap_id"] != nil) {
			t.Fatalf("ann: %v", r)
		}
	}
	if st, _ := post(t, strings.Replace(h.URL, "pbh_", "pbh_x", 1), []byte(`{}`), nil); st != 404 {
		t.Fatalf("unknown token: %d", st)
	}
	if st, _ := post(t, h.URL, bytes.Repeat([]byte(" "), bridge.MaxBody+10), nil); st != http.StatusRequestEntityTooLarge {
		t.Fatalf("large body: %d", st)
	}
	// The token is shown once: the list does not hold it, nor does the database.
	list := e.MustDo(http.StatusOK, "GET", "/tables/"+tb+"/hooks", nil, nil)
	token := h.URL[strings.LastIndex(h.URL, "/")+1:]
	if strings.Contains(list, token) || !strings.Contains(list, h.ID) {
		t.Fatalf("hook list: %s", list)
	}
	if err := e.Store().Checkpoint(t.Context()); err != nil {
		t.Fatal(err)
	}
	db, err := os.ReadFile(e.SQLitePath())
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(db, []byte(token)) {
		t.Fatal("the token is stored in clear")
	}
	e.MustDo(http.StatusNoContent, "DELETE", "/tables/"+tb+"/hooks/"+h.ID, nil, nil)
	if st, _ := post(t, h.URL, []byte(`{"email":"late@x.com"}`), nil); st != 404 {
		t.Fatalf("deleted hook: %d", st)
	}
}

func TestSignedHook(t *testing.T) {
	t.Parallel()
	e, tb, h := setup(t, map[string]any{"signed": true})
	if !h.Signed || !strings.HasPrefix(h.SigningSecret, "pbs_") {
		t.Fatalf("signed hook: %+v", h)
	}
	body := []byte(`{"email":"sig@x.com"}`)
	now := time.Now()
	signed := func(ts time.Time, b []byte) map[string]string {
		return map[string]string{bridge.TimestampHeader: strconv.FormatInt(ts.Unix(), 10), bridge.SignatureHeader: bridge.Sign(h.SigningSecret, ts, b)}
	}
	cases := []struct {
		name   string
		header map[string]string
		body   []byte
		status int
	}{
		{"unsigned", nil, body, 401},
		{"wrong secret", map[string]string{bridge.TimestampHeader: strconv.FormatInt(now.Unix(), 10), bridge.SignatureHeader: bridge.Sign("other", now, body)}, body, 401},
		{"tampered body", signed(now, body), []byte(`{"email":"evil@x.com"}`), 401},
		{"replayed after 10 minutes", signed(now.Add(-10*time.Minute), body), body, 401},
		{"good", signed(now, body), body, 200},
		{"replayed within the window", signed(now, body), body, 409},
	}
	for _, c := range cases {
		if st, text := post(t, h.URL, c.body, c.header); st != c.status {
			t.Fatalf("%s: %d %s, want %d", c.name, st, text, c.status)
		}
	}
	if r := rows(t, e, tb); len(r) != 1 || r[0]["email"] != "sig@x.com" {
		t.Fatalf("rows: %v", r)
	}
	if list := e.MustDo(http.StatusOK, "GET", "/tables/"+tb+"/hooks", nil, nil); strings.Contains(list, h.SigningSecret) {
		t.Fatalf("the signing secret is listed: %s", list)
	}
}

// TestIdempotencyKey: an unsigned post sent again with the same
// Idempotency-Key writes nothing; another key writes.
func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	e, tb, h := setup(t, map[string]any{})
	body := []byte(`{"email":"idem@x.com","name":"Ida"}`)
	for i, want := range []int{200, 409} {
		if st, text := post(t, h.URL, body, map[string]string{bridge.IdempotencyHeader: "evt-1"}); st != want {
			t.Fatalf("post %d: %d %s, want %d", i+1, st, text, want)
		}
	}
	if st, text := post(t, h.URL, body, map[string]string{bridge.IdempotencyHeader: "evt-2"}); st != 200 {
		t.Fatalf("another key: %d %s", st, text)
	}
	if st, text := post(t, h.URL, body, map[string]string{bridge.IdempotencyHeader: strings.Repeat("k", 300)}); st != 400 {
		t.Fatalf("overlong key: %d %s", st, text)
	}
	if r := rows(t, e, tb); len(r) != 2 {
		t.Fatalf("rows: %v, want 2 (no match column: each accepted post is a row)", r)
	}
}
