package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// SyncLoad is background work for a load run: inbound syncs of the demo's
// HubSpot fake, each run again as soon as it ends, in the same server that
// answers the dashboard reads.
type SyncLoad struct {
	Syncs    int // syncs kept running
	Accounts int // HubSpot portals they spread over (each has its own rate limit); default Syncs/5, at least 1
	Records  int // contacts per portal; default 500
}

// SyncStats is what the background syncs did while the load ran.
type SyncStats struct {
	Runs, Succeeded, RateLimited, Failed int
	Read                                 int64
	Elapsed                              time.Duration
}

func (s SyncStats) String() string {
	return fmt.Sprintf("%d sync runs in %s (%d succeeded, %d rate limited, %d failed), %d records read (%.0f/s)",
		s.Runs, s.Elapsed.Round(time.Millisecond), s.Succeeded, s.RateLimited, s.Failed, s.Read, float64(s.Read)/s.Elapsed.Seconds())
}

// apiClient talks to a running Patchbay as one token, without following redirects.
type apiClient struct {
	base, token string
	http        *http.Client
}

func newAPIClient(base, token string) *apiClient {
	return &apiClient{base: strings.TrimSuffix(base, "/"), token: token, http: &http.Client{Timeout: 2 * time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// do sends a JSON request to path (under /api/v1 unless it is a full URL or
// starts with /_fakes) and decodes a 2xx answer into out.
func (c *apiClient) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	u := path
	switch {
	case strings.HasPrefix(path, "http"):
	case strings.HasPrefix(path, "/_fakes"):
		u = c.base + path
	default:
		u = c.base + "/api/v1" + path
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, data)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// connectHubSpot connects a portal of the demo's HubSpot fake through its
// consent page, as a browser would.
func (c *apiClient) connectHubSpot(ctx context.Context, account string) (string, error) {
	var out struct {
		AuthorizeURL string `json:"authorize_url"`
	}
	if err := c.do(ctx, http.MethodPost, "/connections", map[string]any{"provider": "hubspot"}, &out); err != nil {
		return "", err
	}
	form := url.Values{"decision": {"approve"}, "account": {account}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, out.AuthorizeURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("consent: %w", err)
	}
	resp.Body.Close()
	req, err = http.NewRequestWithContext(ctx, http.MethodGet, resp.Header.Get("Location"), nil)
	if err != nil {
		return "", fmt.Errorf("consent answered %d without a callback: %w", resp.StatusCode, err)
	}
	resp, err = c.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("callback: %w", err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if id := loc.Query().Get("connection"); id != "" {
		return id, nil
	}
	return "", fmt.Errorf("callback answered %d, %s (syncs need `patchbay demo`)", resp.StatusCode, resp.Header.Get("Location"))
}

// SetupSyncs prepares l against a running `patchbay demo`: it connects the
// portals, seeds their contacts at the fake, and creates one table and one
// full inbound sync per sync (a full run reads every contact each time). It
// returns the sync ids.
func SetupSyncs(ctx context.Context, base, token string, l SyncLoad) ([]string, error) {
	if l.Syncs <= 0 {
		return nil, nil
	}
	if l.Accounts <= 0 {
		l.Accounts = max(1, l.Syncs/5)
	}
	if l.Records <= 0 {
		l.Records = 500
	}
	c := newAPIClient(base, token)
	stamp := time.Now().UnixNano()
	conns := make([]string, l.Accounts)
	for i := range conns {
		account := fmt.Sprintf("bench-%d-%d", stamp, i)
		id, err := c.connectHubSpot(ctx, account)
		if err != nil {
			return nil, fmt.Errorf("connect HubSpot portal %s: %w", account, err)
		}
		conns[i] = id
		recs := make([]map[string]any, l.Records)
		for j := range recs {
			recs[j] = map[string]any{"email": fmt.Sprintf("c%d@%s.example", j, account), "firstname": fmt.Sprintf("Contact %d", j)}
		}
		if err := c.do(ctx, http.MethodPost, "/_fakes/hubspot/_control/records", map[string]any{"account": account, "object": "contacts", "records": recs}, nil); err != nil {
			return nil, fmt.Errorf("seed contacts: %w", err)
		}
	}
	ids := make([]string, l.Syncs)
	for i := range ids {
		var tb, y struct{ ID string }
		err := c.do(ctx, http.MethodPost, "/tables", map[string]any{"name": fmt.Sprintf("Bench contacts %d", i),
			"columns": []map[string]string{{"name": "email", "type": "text"}, {"name": "first", "type": "text"}}}, &tb)
		if err != nil {
			return nil, err
		}
		err = c.do(ctx, http.MethodPost, "/syncs", map[string]any{"direction": "inbound", "mode": "full", "connection_id": conns[i%len(conns)],
			"table_id": tb.ID, "object": "contacts", "mapping": []map[string]string{{"source": "email", "target": "email"}, {"source": "firstname", "target": "first"}}}, &y)
		if err != nil {
			return nil, err
		}
		ids[i] = y.ID
	}
	return ids, nil
}

// RunSyncs runs each sync again and again (Sync now) until ctx ends, and
// says what they did.
func RunSyncs(ctx context.Context, base, token string, ids []string) SyncStats {
	c := newAPIClient(base, token)
	var (
		st                        SyncStats
		runs, ok, limited, failed atomic.Int64
		read                      atomic.Int64
		wg                        sync.WaitGroup
	)
	start := time.Now()
	for _, id := range ids {
		wg.Go(func() {
			for ctx.Err() == nil {
				var r struct {
					Status string `json:"status"`
					Read   int64  `json:"read"`
				}
				err := c.do(ctx, http.MethodPost, "/syncs/"+id+"/run", map[string]any{}, &r)
				if errors.Is(err, context.Canceled) || ctx.Err() != nil {
					return
				}
				runs.Add(1)
				read.Add(r.Read)
				switch {
				case err == nil && r.Status == "succeeded":
					ok.Add(1)
					continue
				case err == nil && r.Status == "rate_limited":
					limited.Add(1)
				default:
					failed.Add(1)
				}
				// Give the budget (or the server) a moment instead of a tight loop of refusals.
				t := time.NewTimer(time.Second)
				select {
				case <-ctx.Done():
				case <-t.C:
				}
				t.Stop()
			}
		})
	}
	wg.Wait()
	st.Elapsed = time.Since(start)
	st.Runs, st.Succeeded, st.RateLimited, st.Failed = int(runs.Load()), int(ok.Load()), int(limited.Load()), int(failed.Load())
	st.Read = read.Load()
	return st
}
