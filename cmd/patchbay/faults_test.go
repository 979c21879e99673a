package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// These tests run the real binary (`go build`), drive `patchbay demo` over
// HTTP in a subprocess and break things under it: provider outage, a 429
// storm, a revoked grant, SIGKILL during writes. Sync runs belong to the sync
// engine; when it lands, its faults plug into the same harness (startDemo,
// call, consent) with a sync run in place of the probes used here.

const faultToken = "fault-token-0123456789abcdef"

func binary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("process fault tests build the binary; skipped with -short")
	}
	return buildPatchbay(t, "")
}

type proc struct {
	t    *testing.T
	cmd  *exec.Cmd
	url  string
	logs *bytes.Buffer
	done chan struct{}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startDemo runs `patchbay demo` on addr with data in dir and waits until it
// says it is running.
func startDemo(t *testing.T, dir, addr string) *proc {
	t.Helper()
	cmd := exec.Command(binary(t), "demo", "--addr", addr, "--data", dir)
	cmd.Env = append(os.Environ(), "PATCHBAY_BOOTSTRAP_TOKEN="+faultToken, "PATCHBAY_LOG_LEVEL=warn")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, cmd: cmd, url: "http://" + addr, logs: &bytes.Buffer{}, done: make(chan struct{})}
	cmd.Stderr = p.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		said := false
		for sc.Scan() {
			if !said && strings.Contains(sc.Text(), "API token:") {
				said = true
				ready <- true
			}
		}
		if !said {
			ready <- false
		}
	}()
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.kill(syscall.SIGTERM) })
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("demo exited before it was ready: %s", p.logs)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("demo not ready after 30 s: %s", p.logs)
	}
	return p
}

func (p *proc) kill(sig syscall.Signal) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

var client = &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// call sends an API request and decodes a 2xx answer into out.
func (p *proc) call(method, path string, body, out any) (int, string, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	u := path
	if !strings.HasPrefix(u, "http") {
		u = p.url + "/api/v1" + path
	}
	req, _ := http.NewRequest(method, u, rd)
	req.Header.Set("Authorization", "Bearer "+faultToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, string(data), err
		}
	}
	return resp.StatusCode, string(data), nil
}

func (p *proc) must(want int, method, path string, body, out any) string {
	p.t.Helper()
	st, text, err := p.call(method, path, body, out)
	if err != nil || st != want {
		p.t.Fatalf("%s %s: %d %v, want %d: %s", method, path, st, err, want, text)
	}
	return text
}

func (p *proc) control(provider, what string, body any) {
	p.t.Helper()
	b, _ := json.Marshal(body)
	resp, err := client.Post(p.url+"/_fakes/"+provider+"/_control/"+what, "application/json", bytes.NewReader(b))
	if err != nil {
		p.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		p.t.Fatalf("control %s: %d", what, resp.StatusCode)
	}
}

type conn struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Reason string `json:"reason"`
	Notes  string `json:"notes"`
}

// connectHubSpot connects through the fake's consent page, as a browser would.
func (p *proc) connectHubSpot(account string) string {
	p.t.Helper()
	var out struct {
		Connection   conn   `json:"connection"`
		AuthorizeURL string `json:"authorize_url"`
	}
	p.must(201, "POST", "/connections", map[string]any{"provider": "hubspot"}, &out)
	resp, err := client.PostForm(out.AuthorizeURL, url.Values{"decision": {"approve"}, "account": {account}})
	if err != nil {
		p.t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = client.Get(resp.Header.Get("Location"))
	if err != nil {
		p.t.Fatal(err)
	}
	resp.Body.Close()
	u, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || u.Query().Get("connection") == "" {
		p.t.Fatalf("callback: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	return u.Query().Get("connection")
}

func (p *proc) eventKinds(connID string) []string {
	p.t.Helper()
	var evs struct {
		Events []struct {
			Kind    string `json:"kind"`
			Message string `json:"message"`
		} `json:"events"`
	}
	p.must(200, "GET", "/events?connection_id="+connID, nil, &evs)
	var kinds []string
	for _, e := range evs.Events {
		kinds = append(kinds, e.Kind+": "+e.Message)
	}
	return kinds
}

func TestFaultsOverARealProcess(t *testing.T) {
	t.Parallel()
	p := startDemo(t, t.TempDir(), freeAddr(t))
	id := p.connectHubSpot("fault-a")

	// Provider outage: the probe turns the connection red with a reason that
	// heals by itself; nothing is lost when the provider comes back.
	p.control("hubspot", "outage", map[string]bool{"on": true})
	var c conn
	p.must(200, "POST", "/connections/"+id+"/test", nil, &c)
	if c.Status != "error" || c.Reason != "service_unavailable" {
		t.Fatalf("during the outage: %s/%s", c.Status, c.Reason)
	}
	p.control("hubspot", "outage", map[string]bool{"on": false})
	p.must(200, "POST", "/connections/"+id+"/test", nil, &c)
	if c.Status != "connected" {
		t.Fatalf("after the outage: %s/%s", c.Status, c.Reason)
	}

	// A 429 storm: the data provider allows 1 request/s and 12 probes arrive
	// at once. Patchbay waits (Retry-After, its budget) instead of failing or
	// marking anything red.
	var dp struct {
		Connection conn `json:"connection"`
	}
	p.must(201, "POST", "/connections", map[string]any{"provider": "dataprovider", "api_key": "dp_demo_key",
		"config": map[string]string{"endpoint_url": p.url + "/_fakes/dataprovider"}}, &dp)
	p.control("dataprovider", "rate_limit", map[string]int{"per_second": 1})
	var wg sync.WaitGroup
	results := make([]string, 12)
	for i := range results {
		wg.Go(func() {
			var c conn
			st, body, err := p.call("POST", "/connections/"+dp.Connection.ID+"/test", nil, &c)
			results[i] = fmt.Sprintf("%d %s/%s %v %s", st, c.Status, c.Reason, err, body[:min(len(body), 160)])
			if err == nil && st == 200 && c.Status == "connected" {
				results[i] = "ok"
			}
		})
	}
	wg.Wait()
	failed := 0
	for i, r := range results {
		if r != "ok" {
			failed++
			t.Logf("probe %d in the 429 storm: %s", i, r)
		}
	}
	var stats struct {
		RateLimited int64 `json:"rate_limited"`
		OverLimit   int64 `json:"over_limit"`
	}
	resp, err := client.Get(p.url + "/_fakes/dataprovider/_control/stats")
	if err != nil {
		t.Fatal(err)
	}
	_ = json.NewDecoder(resp.Body).Decode(&stats)
	resp.Body.Close()
	t.Logf("429 storm: %d of 12 probes failed; the fake sent %d 429s, accepted %d over its limit", failed, stats.RateLimited, stats.OverLimit)
	if failed > 0 || stats.OverLimit != 0 {
		t.Errorf("the 429 storm broke probes (%d) or the limit (%d over)", failed, stats.OverLimit)
	}
	p.must(200, "GET", "/connections/"+dp.Connection.ID, nil, &c)
	if c.Status != "connected" {
		t.Errorf("rate limiting turned the connection %s/%s", c.Status, c.Reason)
	}
	p.control("dataprovider", "rate_limit", map[string]int{"per_second": 0})

	// The grant revoked in the middle: the next call says so, once, in red.
	p.control("hubspot", "revoke", map[string]string{"account": "fault-a"})
	p.must(200, "POST", "/connections/"+id+"/test", nil, &c)
	if c.Status == "connected" {
		t.Fatalf("after revocation: %s/%s", c.Status, c.Reason)
	}
	kinds := strings.Join(p.eventKinds(id), "\n")
	for _, want := range []string{"connection.connected", "connection.status_changed"} {
		if !strings.Contains(kinds, want) {
			t.Errorf("events lack %s:\n%s", want, kinds)
		}
	}
	t.Logf("after revocation: %s/%s; events:\n%s", c.Status, c.Reason, kinds)
}

// TestKilledDuringWrites: SIGKILL while connections are being created; after
// a restart every acknowledged connection is there exactly once, with its
// credentials and its audit event, and nothing is half-written.
func TestKilledDuringWrites(t *testing.T) {
	t.Parallel()
	dir, addr := t.TempDir(), freeAddr(t)
	p := startDemo(t, dir, addr)
	var mu sync.Mutex
	acked := map[string]string{} // notes → connection id
	enough := make(chan struct{})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				note := fmt.Sprintf("w%d-%d", w, i)
				var out struct {
					Connection conn `json:"connection"`
				}
				st, _, err := p.call("POST", "/connections", map[string]any{"provider": "dataprovider", "api_key": "dp_demo_key", "notes": note,
					"config": map[string]string{"endpoint_url": p.url + "/_fakes/dataprovider"}}, &out)
				if err != nil || st != 201 {
					return // the process is gone
				}
				mu.Lock()
				acked[note] = out.Connection.ID
				if len(acked) == 40 {
					close(enough)
				}
				mu.Unlock()
			}
		})
	}
	select {
	case <-enough:
	case <-time.After(60 * time.Second):
		t.Fatal("40 connections not written within 60 s")
	}
	p.kill(syscall.SIGKILL)
	close(stop)
	wg.Wait()

	p = startDemo(t, dir, addr)
	var list struct {
		Connections []conn `json:"connections"`
	}
	p.must(200, "GET", "/connections", nil, &list)
	seen := map[string]int{}
	for _, c := range list.Connections {
		seen[c.Notes]++
		if c.Status != "connected" {
			t.Errorf("%s (%s) is %s after the restart", c.ID, c.Notes, c.Status)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for note, id := range acked {
		if seen[note] != 1 {
			t.Errorf("acknowledged connection %s (%s) present %d times", id, note, seen[note])
		}
	}
	for note, n := range seen {
		if n != 1 {
			t.Errorf("%s present %d times", note, n)
		}
	}
	// Every connection, acknowledged or caught mid-answer, is whole: its
	// credentials open and work, and its audit event is there.
	for _, c := range list.Connections {
		var got conn
		p.must(200, "POST", "/connections/"+c.ID+"/test", nil, &got)
		if got.Status != "connected" {
			t.Errorf("%s: credentials do not work after the restart: %s/%s", c.ID, got.Status, got.Reason)
		}
		if k := strings.Join(p.eventKinds(c.ID), "\n"); !strings.Contains(k, "connection.connected") {
			t.Errorf("%s has no connected event: %s", c.ID, k)
		}
	}
	t.Logf("%d acknowledged before SIGKILL, %d present after restart", len(acked), len(list.Connections))
}
