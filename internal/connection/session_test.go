package connection_test

import (
	"context"
	"sync"
	"testing"

	"patchbay/internal/connection/connectiontest"
	"patchbay/internal/connector"
)

// One live session used by several goroutines at once, as a sync paging
// and an enrichment lookup share a connection: every request succeeds, the
// token the provider expired midway is refreshed once, and (under -race) the
// session's record of the token it sent is not a data race.
func TestLiveSessionIsSafeForConcurrentRequests(t *testing.T) {
	t.Parallel()
	e := connectiontest.New(t)
	c := e.Connect(t, "acct-race", 1)[0]
	ctx := context.Background()
	sess, conn, err := e.Conns.Session(ctx, c)
	if err != nil {
		t.Fatal(err)
	}

	const goroutines, calls = 6, 2 // within a few seconds of HubSpot's rate limit
	list := func() {
		var wg sync.WaitGroup
		errs := make(chan error, goroutines*calls)
		for range goroutines {
			wg.Go(func() {
				for range calls {
					if _, err := conn.List(ctx, sess, connector.ListRequest{Object: "contacts", Limit: 1}); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("list on a shared live session: %v", err)
		}
	}
	list()
	e.Fake.Kit().Expire(c.AccountID)
	before := e.Fake.Stats()
	list()
	after := e.Fake.Stats()
	if got := after.TokensRefreshed - before.TokensRefreshed; got != 1 {
		t.Fatalf("%d refreshes for one expired token shared by %d goroutines, want 1", got, goroutines)
	}
	if after.Unauthorized == before.Unauthorized {
		t.Fatal("no request met the expired token; the test proves nothing")
	}
	if after.RefreshTokensReused != before.RefreshTokensReused {
		t.Fatal("a refresh token was spent twice")
	}
}
