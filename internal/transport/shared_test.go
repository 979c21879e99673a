package transport_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"patchbay/internal/connector/hubspot"
	fakehubspot "patchbay/internal/fakes/hubspot"
	"patchbay/internal/store"
	"patchbay/internal/transport"
)

// Environment of a worker process started by TestSharedBudgetAcrossProcesses.
const (
	envWorker   = "PATCHBAY_SHARED_BUDGET_WORKER"
	envDSN      = "PATCHBAY_SHARED_BUDGET_DSN"
	envURL      = "PATCHBAY_SHARED_BUDGET_URL"
	envToken    = "PATCHBAY_SHARED_BUDGET_TOKEN"
	envLimit    = "PATCHBAY_SHARED_BUDGET_LIMIT"  // requests per window
	envWindow   = "PATCHBAY_SHARED_BUDGET_WINDOW" // window length
	envUntil    = "PATCHBAY_SHARED_BUDGET_UNTIL"  // unix nanoseconds: stop sending then
	sharedKey   = "con_shared_budget"
	workerConns = 4 // concurrent requests per worker process
)

// hubspotLimitEnv runs the test at HubSpot's documented limit (110 requests
// per 10 s, three windows a case) instead of a short one, for the figures in
// docs/benchmarks.md.
const hubspotLimitEnv = "PATCHBAY_BENCH_HUBSPOT_LIMIT"

// TestSharedBudgetAcrossProcesses runs 1, 3 and 10 worker processes that
// spend one HubSpot account's budget through the transport, each with its
// own budgets over the shared PostgreSQL request log, as workers of one
// installation do. The fake must refuse nothing; the share of the window
// the processes used is logged (docs/benchmarks.md has the figures).
func TestSharedBudgetAcrossProcesses(t *testing.T) {
	limit, window, windows := 20, time.Second, 4
	if os.Getenv(hubspotLimitEnv) != "" {
		limit, window, windows = fakehubspot.DefaultRateLimit, fakehubspot.DefaultRateWindow, 3
	}
	for _, workers := range []int{1, 3, 10} {
		t.Run(fmt.Sprintf("%d workers", workers), func(t *testing.T) {
			dsn := store.TestDSN(t, store.Postgres)          // skips without PostgreSQL
			st, err := store.Open(context.Background(), dsn) // migrates once, before the workers start
			if err != nil {
				t.Fatal(err)
			}
			st.Close()
			fake := fakehubspot.New(fakehubspot.Options{RateLimit: limit, RateWindow: window})
			if _, err := fake.SeedRecords("acct-shared", "contacts", []map[string]any{{"email": "a@example.com"}}); err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			var accepted []time.Time
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				now := time.Now()
				rec := &statusRecorder{ResponseWriter: w}
				fake.ServeHTTP(rec, r)
				if rec.status < 300 {
					mu.Lock()
					accepted = append(accepted, now)
					mu.Unlock()
				}
			}))
			defer srv.Close()
			token := fake.IssueToken("acct-shared").AccessToken
			// Each worker needs a moment to start; the run is windows
			// windows long from then, less half a window so that its last
			// window's requests are the ones sent at that window's start.
			until := time.Now().Add(2*time.Second + time.Duration(windows)*window - window/2)
			var wg sync.WaitGroup
			var sent atomic.Int64
			for range workers {
				cmd := exec.Command(os.Args[0], "-test.run=^TestSharedBudgetWorker$", "-test.count=1")
				cmd.Env = append(os.Environ(), envWorker+"=1", envDSN+"="+dsn, envURL+"="+srv.URL, envToken+"="+token,
					envLimit+"="+strconv.Itoa(limit), envWindow+"="+window.String(), envUntil+"="+strconv.FormatInt(until.UnixNano(), 10))
				var out bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &out
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				wg.Go(func() {
					if err := cmd.Wait(); err != nil {
						t.Errorf("worker: %v\n%s", err, out.String())
						return
					}
					for _, line := range strings.Split(out.String(), "\n") {
						if v, ok := strings.CutPrefix(line, "sent "); ok {
							n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
							sent.Add(n)
						}
					}
				})
			}
			wg.Wait()
			st2 := fake.Stats()
			if beyond := st2.RateLimited + st2.OverLimit; beyond != 0 {
				t.Fatalf("%d workers: the fake refused %d requests for its limit", workers, beyond)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(accepted) == 0 || int64(len(accepted)) != sent.Load() {
				t.Fatalf("%d workers: fake accepted %d requests, workers sent %d", workers, len(accepted), sent.Load())
			}
			span := accepted[len(accepted)-1].Sub(accepted[0])
			most := limit * (int(span/window) + 1) // a rolling window's most in that span
			t.Logf("%d workers: %d requests in %s, 0 beyond the limit; the window allows %d in that span: %.1f %%",
				workers, len(accepted), span.Round(time.Millisecond), most, 100*float64(len(accepted))/float64(most))
		})
	}
}

// TestSharedBudgetWorker is a worker process of
// TestSharedBudgetAcrossProcesses; it skips unless started by it.
func TestSharedBudgetWorker(t *testing.T) {
	if os.Getenv(envWorker) == "" {
		t.Skip("started by TestSharedBudgetAcrossProcesses")
	}
	ctx := context.Background()
	st, err := store.Open(ctx, os.Getenv(envDSN))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	limit, _ := strconv.Atoi(os.Getenv(envLimit))
	window, _ := time.ParseDuration(os.Getenv(envWindow))
	ns, _ := strconv.ParseInt(os.Getenv(envUntil), 10, 64)
	until := time.Unix(0, ns)
	budgets := transport.NewSharedBudgets(st.RateLog())
	conn := &hubspot.Connector{}
	tr := transport.New(transport.Options{Budget: budgets.For(sharedKey, transport.Limit{Requests: limit, Period: window}),
		Used: conn.RequestsUsed, Retries: 1,
		Authorize: func(_ context.Context, r *http.Request) error {
			r.Header.Set("Authorization", "Bearer "+os.Getenv(envToken))
			return nil
		}})
	client := tr.Client()
	// The deadline stops new requests only: a request cut off by a deadline
	// after the fake accepted it would be counted by one side and not the other.
	var sent atomic.Int64
	var wg sync.WaitGroup
	for range workerConns {
		wg.Go(func() {
			for time.Now().Before(until) {
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, os.Getenv(envURL)+"/crm/v3/objects/contacts?limit=10", nil)
				if err != nil {
					t.Error(err)
					return
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("status %d", resp.StatusCode)
					return
				}
				sent.Add(1)
			}
		})
	}
	wg.Wait()
	fmt.Printf("sent %d\n", sent.Load())
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}
