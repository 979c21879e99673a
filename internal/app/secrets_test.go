package app_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"patchbay/internal/app"
	"patchbay/internal/app/apptest"
	"patchbay/internal/connector"
)

// lockedBuffer is a log sink safe for the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.b.Bytes())
}

// TestNoSecretInClear runs a full cycle (connect by OAuth and by API key,
// refresh, a sync-like read and write, a revoked grant, a rejected key,
// reconnect, disconnect) and then looks for every secret that changed hands
// in the debug log, every API answer, every error page and the SQLite file
// with its WAL: none may be there in clear.
func TestNoSecretInClear(t *testing.T) {
	t.Parallel()
	logs := &lockedBuffer{}
	masterKey := base64.StdEncoding.EncodeToString(newKey(t))
	e := apptest.Start(t, apptest.Options{Log: logs, Env: map[string]string{"PATCHBAY_MASTER_KEY": masterKey}})
	var answers bytes.Buffer
	var amu sync.Mutex
	e.Transcript = func(b []byte) {
		amu.Lock()
		defer amu.Unlock()
		answers.Write(b)
		answers.WriteByte('\n')
	}
	ctx := context.Background()
	secrets := map[string]string{"client secret": "patchbay-demo-secret", "master key": masterKey, "bootstrap token": apptest.Token,
		"data provider key": app.DemoDataProviderKey}
	remember := func(label, id string) {
		c, err := e.App.Conns.Token(ctx, id, "")
		if err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		if c.AccessToken != "" {
			secrets[label+" access token"] = c.AccessToken
		}
		if c.RefreshToken != "" {
			secrets[label+" refresh token"] = c.RefreshToken
		}
	}

	// Connect by OAuth, watching the code and state go by.
	var start struct {
		AuthorizeURL string `json:"authorize_url"`
	}
	e.MustDo(201, "POST", "/connections", map[string]any{"provider": "hubspot"}, &start)
	resp, err := e.HTTP.PostForm(start.AuthorizeURL, url.Values{"decision": {"approve"}, "account": {"sec-a"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cb, _ := url.Parse(resp.Header.Get("Location"))
	secrets["authorization code"] = cb.Query().Get("code")
	// The state travels in the authorize URL the API hands out, by design;
	// it must not be stored or logged.
	state := cb.Query().Get("state")
	st, loc := e.Get(cb.String())
	if st != http.StatusSeeOther {
		t.Fatalf("callback %d %s", st, loc)
	}
	u, _ := url.Parse(loc)
	id := u.Query().Get("connection")
	remember("first", id)

	// Refresh after the provider expires the token.
	e.Control("hubspot", "expire", map[string]string{"account": "sec-a"})
	e.MustDo(200, "POST", "/connections/"+id+"/test", nil, nil)
	remember("refreshed", id)

	// A sync-like read and write through the live session.
	c, err := e.Store().GetConnection(ctx, app.DefaultWorkspace, id)
	if err != nil {
		t.Fatal(err)
	}
	sess, conn, err := e.App.Conns.Session(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.List(ctx, sess, connector.ListRequest{Object: "contacts"}); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(ctx, sess, connector.WriteRequest{Object: "contacts", MatchField: "email",
		Records: []connector.Record{{Fields: map[string]any{"email": "secret-scan@example.com", "firstname": "Scan"}}}}); err != nil {
		t.Fatal(err)
	}

	// A rejected API key, then an accepted one.
	secrets["rejected key"] = "dp_wrong_key_4f9a2c7e1b"
	if st, body := e.Do("POST", "/connections", map[string]any{"provider": "dataprovider", "api_key": secrets["rejected key"],
		"config": map[string]string{"endpoint_url": e.URL + "/_fakes/dataprovider"}}, nil); st < 400 {
		t.Fatalf("wrong key accepted: %d %s", st, body)
	}
	var dp struct {
		Connection apptest.Connection `json:"connection"`
	}
	e.MustDo(201, "POST", "/connections", map[string]any{"provider": "dataprovider", "api_key": app.DemoDataProviderKey,
		"config": map[string]string{"endpoint_url": e.URL + "/_fakes/dataprovider"}}, &dp)

	// The grant is revoked at the provider: the probe turns red, with errors logged.
	e.Control("hubspot", "revoke", map[string]string{"account": "sec-a"})
	e.Do("POST", "/connections/"+id+"/test", nil, nil)
	if _, err := e.App.Conns.Token(ctx, id, secrets["refreshed access token"]); err == nil {
		t.Fatal("refresh of a revoked grant succeeded")
	}

	// Reconnect, then disconnect everything.
	var r struct {
		AuthorizeURL string `json:"authorize_url"`
	}
	e.MustDo(200, "POST", "/connections/"+id+"/reconnect", nil, &r)
	if st, body := e.Consent(r.AuthorizeURL, url.Values{"account": {"sec-a"}}); st != http.StatusSeeOther {
		t.Fatalf("reconnect: %d %s", st, body)
	}
	remember("reconnected", id)
	e.MustDo(200, "POST", "/connections/"+id+"/disconnect", nil, nil)
	e.MustDo(200, "POST", "/connections/"+dp.Connection.ID+"/disconnect", nil, nil)
	// Read back everything a user could look at.
	for _, p := range []string{"/integrations", "/connections", "/connections/" + id, "/connections/" + dp.Connection.ID, "/events", "/tokens"} {
		e.MustDo(200, "GET", p, nil, nil)
	}

	var files []byte
	for _, suffix := range []string{"", "-wal", "-shm"} {
		b, err := os.ReadFile(e.SQLitePath() + suffix)
		if err == nil {
			files = append(files, b...)
		}
	}
	places := map[string][]byte{"the log": logs.Bytes(), "an API answer": answers.Bytes(), "the SQLite file or WAL": files}
	if len(logs.Bytes()) == 0 {
		t.Fatal("no log captured")
	}
	for label, secret := range secrets {
		if len(secret) < 8 {
			t.Fatalf("%s %q is too short to search for", label, secret)
		}
		for where, data := range places {
			if bytes.Contains(data, []byte(secret)) {
				i := bytes.Index(data, []byte(secret))
				t.Errorf("the %s is in clear in %s: …%s…", label, where, strings.ToValidUTF8(string(data[max(0, i-80):min(len(data), i+len(secret)+40)]), "?"))
			}
		}
	}
	for where, data := range map[string][]byte{"the log": logs.Bytes(), "the SQLite file or WAL": files} {
		if bytes.Contains(data, []byte(state)) {
			t.Errorf("the OAuth state is in clear in %s", where)
		}
	}
	t.Logf("searched %d secrets in %d bytes of log, %d of API answers, %d of database", len(secrets), len(logs.Bytes()), answers.Len(), len(files))
}
