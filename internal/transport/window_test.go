package transport

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

// windowServer counts arrivals in a rolling window of per as a provider does
// ((now-per, now]) and answers 429 beyond limit; it reports in the
// X-Used header how many its window holds, as providers' quota headers do.
type windowServer struct {
	limit    int
	per      time.Duration
	mu       sync.Mutex
	hits     []time.Time
	refused  int
	accepted int
}

func (s *windowServer) admit(now time.Time) (bool, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cut := now.Add(-s.per)
	i := 0
	for i < len(s.hits) && !s.hits[i].After(cut) {
		i++
	}
	s.hits = s.hits[i:]
	if len(s.hits) >= s.limit {
		s.refused++
		return false, len(s.hits)
	}
	s.hits = append(s.hits, now)
	s.accepted++
	return true, len(s.hits)
}

func (s *windowServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ok, used := s.admit(time.Now())
	w.Header().Set("X-Used", strconv.Itoa(used))
	if !ok {
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func usedHeader(h http.Header) (int, bool) {
	n, err := strconv.Atoi(h.Get("X-Used"))
	return n, err == nil
}

// TestSlidingLogNeverExceedsTheWindow sends from many goroutines through one
// budget whose limit equals the server's: the server must refuse nothing
// however the requests interleave, because a slot frees only a window after
// an answer.
func TestSlidingLogNeverExceedsTheWindow(t *testing.T) {
	t.Parallel()
	ws := &windowServer{limit: 8, per: 100 * time.Millisecond}
	srv := httptest.NewServer(ws)
	t.Cleanup(srv.Close)
	tr := New(Options{Budget: NewBudget(ws.limit, ws.per), Retries: 1})
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			for range 10 {
				resp, err := tr.Client().Get(srv.URL)
				if err != nil {
					t.Error(err)
					return
				}
				drain(resp)
			}
		})
	}
	wg.Wait()
	if ws.refused != 0 || ws.accepted != 60 {
		t.Fatalf("server accepted %d and refused %d, want 60 and 0", ws.accepted, ws.refused)
	}
}

// TestSlidingLogSpendsAFreeWindowAtOnce: a full window is free from the
// start (no fixed burst), and the request beyond it waits while the others
// are unanswered.
func TestSlidingLogSpendsAFreeWindowAtOnce(t *testing.T) {
	t.Parallel()
	b := NewBudget(50, time.Hour)
	ctx := context.Background()
	var answers []func(int)
	for range 50 {
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		a, err := b.Take(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		answers = append(answers, a)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := b.Take(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("51st request within the hour: %v", err)
	}
	for _, a := range answers {
		a(0)
	}
}

// TestSlidingLogCountsOtherClients: an answer saying the window is full (the
// provider's remaining-quota headers) closes the budget although this client
// sent one request.
func TestSlidingLogCountsOtherClients(t *testing.T) {
	t.Parallel()
	ws := &windowServer{limit: 5, per: time.Hour}
	now := time.Now()
	for range 4 { // another client of the same account
		ws.admit(now)
	}
	srv := httptest.NewServer(ws)
	t.Cleanup(srv.Close)
	b := NewBudget(ws.limit, ws.per)
	tr := New(Options{Budget: b, Used: usedHeader})
	resp, err := tr.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	drain(resp)
	short, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := b.Take(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a request while the provider's window is full: %v", err)
	}
	if ws.refused != 0 {
		t.Fatalf("refused %d", ws.refused)
	}
}

// TestKeyedBudgetIsSpentWithTheMain: a request tagged for a secondary limit
// (HubSpot's search limit) waits for both windows.
func TestKeyedBudgetIsSpentWithTheMain(t *testing.T) {
	t.Parallel()
	ws := &windowServer{limit: 3, per: 100 * time.Millisecond}
	srv := httptest.NewServer(ws)
	t.Cleanup(srv.Close)
	search := NewBudget(3, 100*time.Millisecond)
	tr := New(Options{Budget: NewBudget(100, 100*time.Millisecond), Retries: 1,
		Keyed: func(key string) *Budget {
			if key == "search" {
				return search
			}
			return nil
		}})
	for range 12 {
		req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := tr.Client().Do(WithBudgetKey(req, "search"))
		if err != nil {
			t.Fatal(err)
		}
		drain(resp)
	}
	if ws.refused != 0 {
		t.Fatalf("refused %d searches", ws.refused)
	}
}
