// Package loadtest drives Patchbay's API at a fixed request rate from another
// process and reports throughput and latency percentiles (`patchbay bench api`).
// The load is open-loop: requests leave on schedule whether or not earlier ones
// have answered, so a slow server shows up as latency, not as a lower rate.
package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Config describes one run.
type Config struct {
	URL      string        // Patchbay base URL, e.g. http://127.0.0.1:8080
	Token    string        // API token
	Rate     int           // requests per second
	Duration time.Duration // how long to send
	// Paths are the API paths requested in turn (under /api/v1). Empty means
	// the dashboard's reads: /integrations and /connections/{id} for every
	// connection the workspace has.
	Paths []string
	// MaxInFlight bounds concurrent requests (default 512); requests that
	// would exceed it count as dropped.
	MaxInFlight int
}

// Result is what a run measured.
type Result struct {
	Sent, OK, Failed, Dropped int
	Elapsed                   time.Duration
	P50, P90, P99, Max        time.Duration
	Statuses                  map[int]int
	Paths                     int
}

// Throughput is answered requests per second.
func (r Result) Throughput() float64 { return float64(r.OK+r.Failed) / r.Elapsed.Seconds() }

func (r Result) String() string {
	return fmt.Sprintf("%d requests in %s over %d paths: %.0f answered/s, %d ok, %d failed, %d dropped; latency p50 %s p90 %s p99 %s max %s; statuses %v",
		r.Sent, r.Elapsed.Round(time.Millisecond), r.Paths, r.Throughput(), r.OK, r.Failed, r.Dropped,
		r.P50.Round(10*time.Microsecond), r.P90.Round(10*time.Microsecond), r.P99.Round(10*time.Microsecond), r.Max.Round(10*time.Microsecond), r.Statuses)
}

// DashboardPaths lists the dashboard's reads: the integrations page and every connection's detail.
func DashboardPaths(ctx context.Context, client *http.Client, base, token string) ([]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/connections", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("list connections: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("list connections: HTTP %d (is the token right?)", resp.StatusCode)
	}
	var out struct {
		Connections []struct {
			ID string `json:"id"`
		} `json:"connections"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("list connections: %w", err)
	}
	paths := []string{"/integrations"}
	for _, c := range out.Connections {
		paths = append(paths, "/integrations", "/connections/"+c.ID)
	}
	return paths, nil
}

// Run sends Rate requests per second for Duration and measures each answer.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Rate <= 0 || cfg.Duration <= 0 {
		return Result{}, fmt.Errorf("rate and duration must be positive")
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 512
	}
	base := strings.TrimSuffix(cfg.URL, "/")
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConns: cfg.MaxInFlight, MaxIdleConnsPerHost: cfg.MaxInFlight, IdleConnTimeout: time.Minute}}
	defer client.CloseIdleConnections()
	paths := cfg.Paths
	if len(paths) == 0 {
		var err error
		if paths, err = DashboardPaths(ctx, client, base, cfg.Token); err != nil {
			return Result{}, err
		}
	}
	var (
		mu        sync.Mutex
		latencies = make([]time.Duration, 0, int(float64(cfg.Rate)*cfg.Duration.Seconds())+1)
		res       = Result{Statuses: map[int]int{}, Paths: len(paths)}
		wg        sync.WaitGroup
	)
	slots := make(chan struct{}, cfg.MaxInFlight)
	interval := time.Second / time.Duration(cfg.Rate)
	total := int(cfg.Duration / interval)
	start := time.Now()
	for i := range total {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			select {
			case <-ctx.Done():
				return res, ctx.Err()
			case <-time.After(d):
			}
		}
		res.Sent++
		select {
		case slots <- struct{}{}:
		default:
			res.Dropped++
			continue
		}
		path := paths[i%len(paths)]
		wg.Go(func() {
			defer func() { <-slots }()
			t0 := time.Now()
			status, err := get(ctx, client, base+"/api/v1"+path, cfg.Token)
			d := time.Since(t0)
			mu.Lock()
			defer mu.Unlock()
			latencies = append(latencies, d)
			res.Statuses[status]++
			if err != nil || status != http.StatusOK {
				res.Failed++
				return
			}
			res.OK++
		})
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	slices.Sort(latencies)
	if n := len(latencies); n > 0 {
		at := func(q float64) time.Duration { return latencies[min(n-1, int(q*float64(n)))] }
		res.P50, res.P90, res.P99, res.Max = at(0.50), at(0.90), at(0.99), latencies[n-1]
	}
	return res, nil
}

func get(ctx context.Context, client *http.Client, url, token string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body) // a reply counts once it is read whole
	return resp.StatusCode, err
}

// SeedDemo creates n data provider connections against a demo's fake (API
// key dp_demo_key), so that the dashboard reads have connections to show.
func SeedDemo(ctx context.Context, base, token string, n int) error {
	base = strings.TrimSuffix(base, "/")
	for i := range n {
		body := fmt.Sprintf(`{"provider":"dataprovider","api_key":"dp_demo_key","notes":"bench %d","config":{"endpoint_url":%q}}`, i, base+"/_fakes/dataprovider")
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/connections", strings.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("seed connection %d: %w", i, err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			return fmt.Errorf("seed connection %d: HTTP %d: %s (seeding needs `patchbay demo`)", i, resp.StatusCode, msg)
		}
	}
	return nil
}
