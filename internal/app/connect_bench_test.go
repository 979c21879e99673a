package app_test

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"patchbay/internal/app/apptest"
)

// BenchmarkConnectFlow measures a whole OAuth connect over real HTTP:
// POST /connections → consent at the fake → callback (code exchange, identity,
// encrypted save) → the first provider call through the new connection.
func BenchmarkConnectFlow(b *testing.B) {
	e := apptest.Start(b, apptest.Options{})
	for b.Loop() {
		var out struct {
			AuthorizeURL string `json:"authorize_url"`
		}
		e.MustDo(http.StatusCreated, "POST", "/connections", map[string]any{"provider": "hubspot"}, &out)
		st, loc := e.Consent(out.AuthorizeURL, url.Values{"account": {"acct-bench"}})
		if st != http.StatusSeeOther {
			b.Fatalf("callback %d %s", st, loc)
		}
		u, _ := url.Parse(loc)
		e.MustDo(http.StatusOK, "POST", "/connections/"+u.Query().Get("connection")+"/test", nil, nil)
	}
}

// BenchmarkRefreshUnder100Callers: 100 goroutines ask for a token that the
// provider just refused; one refresh serves them all.
func BenchmarkRefreshUnder100Callers(b *testing.B) {
	e := apptest.Start(b, apptest.Options{})
	id := e.ConnectOAuth("hubspot", "acct-bench-r", nil)
	ctx := context.Background()
	for b.Loop() {
		old, err := e.App.Conns.Token(ctx, id, "")
		if err != nil {
			b.Fatal(err)
		}
		var wg sync.WaitGroup
		for range 100 {
			wg.Go(func() {
				if _, err := e.App.Conns.Token(ctx, id, old.AccessToken); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
	}
	if reused := hubspotFake(e).Stats().RefreshTokensReused; reused != 0 {
		b.Fatalf("%d refresh tokens reused", reused)
	}
}
