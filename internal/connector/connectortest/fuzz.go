package connectortest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"patchbay/internal/connector"
)

// canned answers every request with the same status and body.
type canned struct {
	status int
	body   []byte
}

func (c canned) RoundTrip(r *http.Request) (*http.Response, error) {
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{StatusCode: c.status, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader(c.body)), Request: r}, nil
}

// FuzzCall prepares one input of a connector's response fuzz test: a session
// whose every request is answered with status (folded into 100–599) and
// body, a context bounded at 2 s, a watchdog that reports a hang (a loop that
// never calls the network again would not see the context), and a check that
// fails on an untyped error, on one that arrives after the deadline, and on
// one that carries secret (the token or key in creds).
func FuzzCall(t *testing.T, status int, body []byte, base string, creds connector.Credentials, secret string) (context.Context, connector.Session, func(op string, err error)) {
	t.Helper()
	if status < 100 || status > 599 {
		status = 200 + (status%400+400)%400
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	wd := time.AfterFunc(3*time.Second, func() { panic(fmt.Sprintf("hang: status %d body %q", status, body)) })
	t.Cleanup(func() {
		wd.Stop()
		cancel()
	})
	s := connector.Session{HTTP: &http.Client{Transport: canned{status, body}}, BaseURL: base, Creds: creds}
	check := func(op string, err error) {
		t.Helper()
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("%s hung on status %d body %q", op, status, body)
		}
		var ce *connector.Error
		if !errors.As(err, &ce) {
			t.Fatalf("%s: untyped error %T: %v", op, err, err)
		}
		if strings.Contains(err.Error(), secret) {
			t.Fatalf("%s: the credential is in the error: %v", op, err)
		}
	}
	return ctx, s, check
}
