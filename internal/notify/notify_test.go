package notify

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"patchbay/internal/catalog"
	"patchbay/internal/notify/notifytest"
	"patchbay/internal/store"
	"patchbay/internal/vault"
)

func setup(t *testing.T, cfg Config) (*Notifier, *store.Store) {
	t.Helper()
	st := store.OpenTest(t, store.SQLite)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	v, err := vault.New(key)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.EnsureWorkspace(context.Background(), "ws", "WS", "standard"); err != nil {
		t.Fatal(err)
	}
	cfg.Store, cfg.Vault, cfg.Catalog = st, v, cat
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n.Start(context.Background())
	t.Cleanup(n.Stop)
	return n, st
}

func TestEmailGoesThroughSMTPWithSTARTTLSAndAuth(t *testing.T) {
	t.Parallel()
	srv := notifytest.Start(t, notifytest.Options{User: "mailer", Password: "s3cret", TLS: true})
	m := mailer{SMTPConfig{Host: srv.Host, Port: srv.Port, Username: "mailer", Password: "s3cret", From: "Patchbay <pb@example.com>",
		StartTLS: StartTLSAlways, TLS: &tls.Config{RootCAs: srv.RootCAs, ServerName: "127.0.0.1"}}}
	if err := m.c.validate(); err != nil {
		t.Fatal(err)
	}
	if err := m.send(context.Background(), []string{"ops@example.com"}, "HubSpot needs attention: café", "Cause: x\nFix: reconnect"); err != nil {
		t.Fatal(err)
	}
	got := srv.Next(t)
	if !got.TLS || got.User != "mailer" || got.From != "pb@example.com" || len(got.To) != 1 || got.To[0] != "ops@example.com" {
		t.Fatalf("envelope %+v", got)
	}
	for _, want := range []string{"Subject: =?utf-8?q?HubSpot_needs_attention:_caf=C3=A9?=", "Fix: reconnect", "Content-Type: text/plain; charset=utf-8"} {
		if !strings.Contains(got.Data, want) {
			t.Fatalf("message lacks %q:\n%s", want, got.Data)
		}
	}

	// A wrong password is refused by the server, and said so.
	m.c.Password = "wrong"
	if err := m.send(context.Background(), []string{"ops@example.com"}, "x", "y"); err == nil || !strings.Contains(err.Error(), "AUTH") {
		t.Fatalf("wrong password: %v", err)
	}
	// STARTTLS=always refuses a server without it.
	plain := notifytest.Start(t, notifytest.Options{})
	m = mailer{SMTPConfig{Host: plain.Host, Port: plain.Port, From: "pb@example.com", StartTLS: StartTLSAlways, Timeout: 5 * time.Second}}
	if err := m.send(context.Background(), []string{"ops@example.com"}, "x", "y"); err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("always without STARTTLS: %v", err)
	}
}

func TestWebhookIsSignedAndRetried(t *testing.T) {
	t.Parallel()
	secret := []byte("whsec_test")
	var calls atomic.Int32
	got := make(chan *http.Request, 4)
	bodies := make(chan []byte, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		b, _ := io.ReadAll(r.Body)
		got <- r
		bodies <- b
	}))
	t.Cleanup(srv.Close)
	p := newPoster(WebhookConfig{AllowPrivate: true, BackoffBase: 10 * time.Millisecond}, time.Now)
	n, err := p.post(context.Background(), srv.URL, KindRed, "ntf_1", secret, []byte(`{"text":"hi"}`))
	if err != nil || n != 2 {
		t.Fatalf("post: %d attempts, %v", n, err)
	}
	r, body := <-got, <-bodies
	ts, _ := strconv.ParseInt(r.Header.Get(HeaderTimestamp), 10, 64)
	if !Verify(secret, ts, body, r.Header.Get(HeaderSignature)) || !strings.HasPrefix(r.Header.Get(HeaderSignature), "sha256=") {
		t.Fatalf("signature %q does not verify", r.Header.Get(HeaderSignature))
	}
	if Verify([]byte("other"), ts, body, r.Header.Get(HeaderSignature)) || Verify(secret, ts+1, body, r.Header.Get(HeaderSignature)) {
		t.Fatal("signature verifies with another secret or timestamp")
	}
	if r.Header.Get(HeaderEvent) != KindRed || r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("headers %v", r.Header)
	}

	// A 4xx other than 429 is not retried.
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusGone) }))
	t.Cleanup(bad.Close)
	if n, err := p.post(context.Background(), bad.URL, KindRed, "ntf_2", secret, []byte(`{}`)); err == nil || n != 1 {
		t.Fatalf("410: %d attempts, %v", n, err)
	}
}

func TestWebhooksStayOffInternalNetworks(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("a webhook reached a loopback address")
	}))
	t.Cleanup(srv.Close)
	p := newPoster(WebhookConfig{BackoffBase: time.Millisecond}, time.Now)
	if n, err := p.post(context.Background(), srv.URL, KindRed, "ntf", []byte("k"), []byte(`{}`)); !errors.Is(err, ErrForbiddenAddress) || n != 1 {
		t.Fatalf("loopback webhook: %d attempts, %v", n, err)
	}
	tests := []struct {
		url   string
		allow bool
		ok    bool
	}{
		{"https://hooks.slack.com/services/T/B/X", false, true},
		{"http://127.0.0.1:8080/hook", false, false},
		{"http://localhost/hook", false, false},
		{"http://10.1.2.3/hook", false, false},
		{"http://169.254.169.254/latest/meta-data", false, false},
		{"http://[::1]/hook", false, false},
		{"http://[::ffff:192.168.1.1]/hook", false, false},
		{"http://127.0.0.1:8080/hook", true, true},
		{"ftp://example.com/x", true, false},
		{"https://user:pw@example.com/x", true, false},
		{"/relative", true, false},
	}
	for _, tc := range tests {
		if err := CheckURL(tc.url, tc.allow); (err == nil) != tc.ok {
			t.Errorf("CheckURL(%q, allow=%v) = %v, want ok=%v", tc.url, tc.allow, err, tc.ok)
		}
	}
}

func TestRoutesAndDigestOncePerMonth(t *testing.T) {
	t.Parallel()
	mail := notifytest.Start(t, notifytest.Options{})
	n, st := setup(t, Config{SMTP: SMTPConfig{Host: mail.Host, Port: mail.Port, From: "pb@example.com", StartTLS: StartTLSNever}})
	ctx := context.Background()
	for _, bad := range []RouteRequest{{}, {Email: "not an address"}, {Email: "a@example.com", WebhookURL: "https://x.example"},
		{Email: "a@example.com", Events: []string{"everything"}}, {Email: "a@example.com", ConnectionID: "con_nope"},
		{WebhookURL: "http://192.168.0.1/x"}} {
		var fe *FieldError
		if _, _, err := n.CreateRoute(ctx, "ws", bad); !errors.As(err, &fe) {
			t.Fatalf("route %+v: %v, want a field error", bad, err)
		}
	}
	if _, _, err := n.CreateRoute(ctx, "ws", RouteRequest{Email: "ops@example.com"}); err != nil {
		t.Fatal(err)
	}
	if routes, _ := st.ListRoutes(ctx, "ws"); len(routes) != 1 {
		t.Fatalf("%d routes, want 1 (bad input must store nothing)", len(routes))
	}
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	for range 2 {
		if err := n.SendDigests(ctx, now); err != nil {
			t.Fatal(err)
		}
	}
	m := mail.Next(t)
	if !strings.Contains(m.Data, "Monthly health digest, December 2026") || !strings.Contains(m.Data, "No connections yet.") {
		t.Fatalf("digest:\n%s", m.Data)
	}
	evs, _ := st.ListEvents(ctx, "ws", "", 50)
	if len(evs) != 1 || evs[0].Kind != "notification."+KindDigest {
		t.Fatalf("audit log after two digest runs in one month: %d events", len(evs))
	}
}
