package transport

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"patchbay/internal/connector"
)

// scripted answers with the given statuses in order, then 200.
func scripted(t *testing.T, statuses []int, header http.Header) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		if i < len(statuses) {
			for k, v := range header {
				w.Header()[k] = v
			}
			w.WriteHeader(statuses[i])
			return
		}
		body, _ := io.ReadAll(r.Body)
		_, _ = w.Write(append([]byte(r.Header.Get("Authorization")+"|"), body...))
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		method    string
		statuses  []int
		header    http.Header
		idem      bool
		wantCalls int32
		wantCode  int
	}{
		{"ok first time", "GET", nil, nil, false, 1, 200},
		{"429 then ok honours Retry-After", "POST", []int{429}, http.Header{"Retry-After": {"0"}}, false, 2, 200},
		{"5xx retried for GET", "GET", []int{503, 502}, nil, false, 3, 200},
		{"5xx not retried for a creating POST", "POST", []int{503}, nil, false, 1, 503},
		{"5xx retried for an idempotent POST", "POST", []int{503}, nil, true, 2, 200},
		{"gives up after retries", "GET", []int{500, 500, 500, 500, 500, 500}, nil, false, 5, 500},
		{"404 returned as is", "GET", []int{404}, nil, false, 1, 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, n := scripted(t, tc.statuses, tc.header)
			tr := New(Options{Budget: NewBudget(0, 0), Authorize: func(_ context.Context, r *http.Request) error {
				r.Header.Set("Authorization", "Bearer x")
				return nil
			}})
			tr.o.Retries = 4
			req, _ := http.NewRequest(tc.method, srv.URL, strings.NewReader("body"))
			if tc.idem {
				req = Idempotent(req)
			}
			resp, err := tr.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantCode || n.Load() != tc.wantCalls {
				t.Fatalf("status %d after %d calls, want %d after %d", resp.StatusCode, n.Load(), tc.wantCode, tc.wantCalls)
			}
			if tc.wantCode == 200 && string(got) != "Bearer x|body" {
				t.Fatalf("a retry lost the auth header or the body: %q", got)
			}
		})
	}
}

func TestRefreshOnceOn401(t *testing.T) {
	t.Parallel()
	srv, n := scripted(t, []int{401, 401}, nil)
	var refreshes atomic.Int32
	token := "old"
	tr := New(Options{Budget: NewBudget(0, 0),
		Authorize: func(_ context.Context, r *http.Request) error { r.Header.Set("Authorization", token); return nil },
		Refresh:   func(context.Context, *http.Request) error { refreshes.Add(1); token = "new"; return nil }})
	resp, err := tr.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// One refresh, one retry with the new token; the second 401 goes back to the caller.
	if resp.StatusCode != 401 || refreshes.Load() != 1 || n.Load() != 2 {
		t.Fatalf("status %d, %d refreshes, %d calls", resp.StatusCode, refreshes.Load(), n.Load())
	}
}

func TestUnreachableIsClassified(t *testing.T) {
	t.Parallel()
	tr := New(Options{Budget: NewBudget(0, 0), Retries: 1})
	_, err := tr.Client().Get("http://127.0.0.1:1/")
	if connector.ClassOf(err) != connector.ClassUnavailable {
		t.Fatalf("err %v", err)
	}
}

func TestBudgetPausesEveryoneAfter429(t *testing.T) {
	t.Parallel()
	b := NewBudget(0, 0)
	b.Pause(time.Now().Add(time.Hour))
	if b.PausedUntil().IsZero() {
		t.Fatal("pause not recorded")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := b.Take(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait during a pause: %v", err)
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	future := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	tests := []struct {
		v        string
		min, max time.Duration
	}{
		{"", time.Second, time.Second},
		{"3", 3 * time.Second, 3 * time.Second},
		{"0.5", 500 * time.Millisecond, 500 * time.Millisecond},
		{future, 80 * time.Second, 91 * time.Second},
		{"soon", time.Second, time.Second},
	}
	for _, tc := range tests {
		got := RetryAfter(http.Header{"Retry-After": {tc.v}}, time.Second)
		if got < tc.min || got > tc.max {
			t.Errorf("RetryAfter(%q) = %v", tc.v, got)
		}
	}
}

// BenchmarkBudgetOverhead is the cost of asking an unlimited budget.
func BenchmarkBudgetOverhead(b *testing.B) {
	bud := NewBudget(0, 0)
	ctx := context.Background()
	for b.Loop() {
		answered, _ := bud.Take(ctx)
		answered(0)
	}
}
