package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Sync runs under faults, over a real process: the provider goes down in the
// middle of an inbound sync, rate-limits it to 1 request/s, has the grant
// revoked under it, and the process is SIGKILLed while a sync writes. After
// recovery every record is in the table exactly once, and every run's record
// (GET /syncs/{id}/runs) says what happened.

type runRec struct {
	ID         string `json:"id"`
	Trigger    string `json:"trigger"`
	Status     string `json:"status"`
	Read       int    `json:"read"`
	Created    int    `json:"created"`
	Updated    int    `json:"updated"`
	Unchanged  int    `json:"unchanged"`
	Failed     int    `json:"failed"`
	ErrorClass string `json:"error_class"`
	Error      string `json:"error"`
}

func (r runRec) String() string {
	return fmt.Sprintf("%s %s read=%d created=%d updated=%d unchanged=%d failed=%d class=%q error=%q",
		r.Trigger, r.Status, r.Read, r.Created, r.Updated, r.Unchanged, r.Failed, r.ErrorClass, r.Error)
}

// seedContacts stores n contacts at the HubSpot fake for account.
func (p *proc) seedContacts(account string, n int) {
	p.t.Helper()
	recs := make([]map[string]any, n)
	for i := range recs {
		recs[i] = map[string]any{"email": fmt.Sprintf("c%04d@%s.example", i, account), "firstname": fmt.Sprintf("C%d", i)}
	}
	b, _ := json.Marshal(map[string]any{"account": account, "object": "contacts", "records": recs})
	resp, err := client.Post(p.url+"/_fakes/hubspot/_control/records", "application/json", bytes.NewReader(b))
	if err != nil {
		p.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		p.t.Fatalf("seed: %d", resp.StatusCode)
	}
}

// hubspotCalls is how many API requests the fake received for account.
func (p *proc) hubspotCalls(account string) int64 {
	p.t.Helper()
	var st struct {
		Accounts map[string]struct {
			Calls int64 `json:"calls"`
		} `json:"accounts"`
		OverLimit int64 `json:"over_limit"`
	}
	resp, err := client.Get(p.url + "/_fakes/hubspot/_control/stats")
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		p.t.Fatal(err)
	}
	if st.OverLimit != 0 {
		p.t.Errorf("the fake accepted %d requests over its limit", st.OverLimit)
	}
	return st.Accounts[account].Calls
}

// waitCalls waits until the fake has answered more than n requests for account.
func (p *proc) waitCalls(account string, n int64) {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for p.hubspotCalls(account) <= n {
		if time.Now().After(deadline) {
			p.t.Fatalf("the sync made no progress at the provider within 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// contactSync creates a table and a manual inbound sync of contacts into it.
func (p *proc) contactSync(connID string) (table, syncID string) {
	p.t.Helper()
	var tb, y struct{ ID string }
	p.must(201, "POST", "/tables", map[string]any{"name": "Contacts " + connID, "columns": []map[string]string{
		{"name": "email", "type": "text"}, {"name": "first", "type": "text"}}}, &tb)
	p.must(201, "POST", "/syncs", map[string]any{"direction": "inbound", "connection_id": connID, "table_id": tb.ID, "object": "contacts",
		"mapping": []map[string]string{{"source": "email", "target": "email"}, {"source": "firstname", "target": "first"}}}, &y)
	return tb.ID, y.ID
}

// runAsync starts Sync now and delivers the run it answers with.
func (p *proc) runAsync(syncID string) <-chan runRec {
	out := make(chan runRec, 1)
	go func() {
		var r runRec
		st, body, err := p.call("POST", "/syncs/"+syncID+"/run", map[string]any{}, &r)
		if err != nil || st != 200 {
			r = runRec{Status: fmt.Sprintf("HTTP %d %v: %s", st, err, body)}
		}
		out <- r
	}()
	return out
}

func (p *proc) runs(syncID string) []runRec {
	p.t.Helper()
	var out struct {
		Runs []runRec `json:"runs"`
	}
	p.must(200, "GET", "/syncs/"+syncID+"/runs", nil, &out)
	return out.Runs
}

// checkTable fails the test unless the table holds exactly the n contacts
// seeded for account, each once.
func (p *proc) checkTable(table, account string, n int) {
	p.t.Helper()
	seen := map[string]int{}
	total, cursor := 0, ""
	for {
		var page struct {
			Rows []struct {
				Values map[string]any `json:"values"`
			} `json:"rows"`
			NextCursor *string `json:"next_cursor"`
		}
		p.must(200, "GET", "/tables/"+table+"/rows?limit=500&cursor="+url.QueryEscape(cursor), nil, &page)
		for _, r := range page.Rows {
			email, _ := r.Values["email"].(string)
			seen[email]++
			total++
		}
		if page.NextCursor == nil {
			break
		}
		cursor = *page.NextCursor
	}
	for i := range n {
		if e := fmt.Sprintf("c%04d@%s.example", i, account); seen[e] != 1 {
			p.t.Errorf("%s is in the table %d times", e, seen[e])
		}
	}
	if total != n {
		p.t.Errorf("the table holds %d rows, want %d", total, n)
	}
}

func TestSyncFaultsOverARealProcess(t *testing.T) {
	t.Parallel()
	p := startDemo(t, t.TempDir(), freeAddr(t))
	const n = 600 // six pages of 100

	t.Run("outage mid-sync", func(t *testing.T) {
		p.t = t
		id := p.connectHubSpot("sync-outage")
		p.seedContacts("sync-outage", n)
		table, y := p.contactSync(id)
		p.control("hubspot", "rate_limit", map[string]int{"per_second": 2}) // slow enough to break it in the middle
		base := p.hubspotCalls("sync-outage")
		done := p.runAsync(y)
		p.waitCalls("sync-outage", base+2)
		p.control("hubspot", "outage", map[string]bool{"on": true})
		first := <-done
		p.control("hubspot", "outage", map[string]bool{"on": false})
		p.control("hubspot", "rate_limit", map[string]int{"per_second": 0})
		if first.Status != "failed" || !strings.Contains(first.ErrorClass, "unavailable") || first.Read == 0 || first.Read >= n {
			t.Fatalf("the run the outage broke: %s", first)
		}
		second := <-p.runAsync(y)
		if second.Status != "succeeded" || second.Created+first.Created != n {
			t.Fatalf("after the outage: %s (first %s)", second, first)
		}
		p.checkTable(table, "sync-outage", n)
		runs := p.runs(y)
		if len(runs) != 2 || runs[1].Status != "failed" || runs[1].Error == "" || runs[0].Status != "succeeded" {
			t.Fatalf("run records %v", runs)
		}
		t.Logf("outage: %s; then %s", runs[1], runs[0])
	})

	t.Run("429 storm", func(t *testing.T) {
		p.t = t
		id := p.connectHubSpot("sync-storm")
		p.seedContacts("sync-storm", 300)
		p.control("hubspot", "rate_limit", map[string]int{"per_second": 1})
		defer p.control("hubspot", "rate_limit", map[string]int{"per_second": 0})
		// Three syncs of one connection at once against 1 request/s.
		type sy struct{ table, id string }
		var syncs []sy
		for range 3 {
			table, y := p.contactSync(id)
			syncs = append(syncs, sy{table, y})
		}
		var wg sync.WaitGroup
		results := make([]runRec, len(syncs))
		for i, s := range syncs {
			wg.Go(func() { results[i] = <-p.runAsync(s.id) })
		}
		wg.Wait()
		p.control("hubspot", "rate_limit", map[string]int{"per_second": 0})
		for i, s := range syncs {
			r := results[i]
			switch r.Status {
			case "succeeded":
			case "rate_limited": // gave the budget back with a resume time: the next run finishes
				if r.ErrorClass != "rate_limited" || r.Error == "" {
					t.Errorf("rate-limited run without its reason: %s", r)
				}
				if again := <-p.runAsync(s.id); again.Status != "succeeded" {
					t.Errorf("after the storm: %s", again)
				}
			default:
				t.Errorf("sync %d in the 429 storm: %s", i, r)
			}
			p.checkTable(s.table, "sync-storm", 300)
			t.Logf("429 storm, sync %d: %v", i, p.runs(s.id))
		}
		var c conn
		p.must(200, "GET", "/connections/"+id, nil, &c)
		if c.Status != "connected" {
			t.Errorf("rate limiting turned the connection %s/%s", c.Status, c.Reason)
		}
	})

	t.Run("token revoked mid-run", func(t *testing.T) {
		p.t = t
		id := p.connectHubSpot("sync-revoked")
		p.seedContacts("sync-revoked", n)
		table, y := p.contactSync(id)
		p.control("hubspot", "rate_limit", map[string]int{"per_second": 2})
		base := p.hubspotCalls("sync-revoked")
		done := p.runAsync(y)
		p.waitCalls("sync-revoked", base+2)
		p.control("hubspot", "revoke", map[string]string{"account": "sync-revoked"})
		first := <-done
		p.control("hubspot", "rate_limit", map[string]int{"per_second": 0})
		if first.Status != "failed" || !strings.Contains(first.ErrorClass, "connection:") || first.Read >= n {
			t.Fatalf("the run the revocation broke: %s", first)
		}
		var c conn
		p.must(200, "GET", "/connections/"+id, nil, &c)
		if c.Status == "connected" {
			t.Fatalf("the connection stayed connected after the grant was revoked")
		}
		// Reconnect: the sync resumes by itself with a catch-up run.
		var rc struct {
			AuthorizeURL string `json:"authorize_url"`
		}
		p.must(200, "POST", "/connections/"+id+"/reconnect", map[string]any{}, &rc)
		p.consent(rc.AuthorizeURL, "sync-revoked")
		deadline := time.Now().Add(30 * time.Second)
		var runs []runRec
		for {
			runs = p.runs(y)
			if len(runs) >= 2 && runs[0].Status != "running" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no catch-up run after the reconnect: %v", runs)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if runs[0].Trigger != "reconnect" || runs[0].Status != "succeeded" || runs[0].Created+first.Created != n {
			t.Fatalf("catch-up run %s (first %s)", runs[0], first)
		}
		p.checkTable(table, "sync-revoked", n)
		t.Logf("revoked: %s; then %s", runs[len(runs)-1], runs[0])
	})
}

// consent approves an authorize URL at the fake as account and follows the
// callback back to Patchbay.
func (p *proc) consent(authorizeURL, account string) string {
	p.t.Helper()
	resp, err := client.PostForm(authorizeURL, url.Values{"decision": {"approve"}, "account": {account}})
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

// TestKilledDuringSync: SIGKILL while an inbound sync writes pages; after a
// restart the dead run's record says it was interrupted, the next run resumes,
// and every record is in the table exactly once.
func TestKilledDuringSync(t *testing.T) {
	t.Parallel()
	dir, addr := t.TempDir(), freeAddr(t)
	p := startDemo(t, dir, addr)
	const n = 1000
	id := p.connectHubSpot("sync-killed")
	p.seedContacts("sync-killed", n)
	table, y := p.contactSync(id)
	p.control("hubspot", "rate_limit", map[string]int{"per_second": 3})
	base := p.hubspotCalls("sync-killed")
	_ = p.runAsync(y) // its answer never comes
	p.waitCalls("sync-killed", base+3)
	p.kill(syscall.SIGKILL)

	p = startDemo(t, dir, addr)
	// The fakes live in the process: the restarted demo has fresh ones.
	p.seedContacts("sync-killed", n)
	runs := p.runs(y)
	if len(runs) != 1 || runs[0].Status != "interrupted" || runs[0].ErrorClass != "interrupted" || runs[0].Error == "" {
		t.Fatalf("the killed run's record: %v", runs)
	}
	p.checkTableAtMost(table, "sync-killed", n)
	// The connection's grant is gone with the old fake: reconnect, which
	// resumes the sync.
	var rc struct {
		AuthorizeURL string `json:"authorize_url"`
	}
	p.must(200, "POST", "/connections/"+id+"/reconnect", map[string]any{}, &rc)
	p.consent(rc.AuthorizeURL, "sync-killed")
	after := <-p.runAsync(y)
	if after.Status != "succeeded" {
		t.Fatalf("after the restart: %s", after)
	}
	p.checkTable(table, "sync-killed", n)
	t.Logf("killed: %s; then %s", runs[0], after)
}

// checkTableAtMost fails the test if any contact of account is in the table
// more than once or the table holds more than n rows.
func (p *proc) checkTableAtMost(table, account string, n int) {
	p.t.Helper()
	var page struct {
		Rows []struct {
			Values map[string]any `json:"values"`
		} `json:"rows"`
	}
	p.must(200, "GET", "/tables/"+table+"/rows?limit=1000", nil, &page)
	seen := map[string]int{}
	for _, r := range page.Rows {
		e, _ := r.Values["email"].(string)
		if seen[e]++; seen[e] > 1 || !strings.HasSuffix(e, "@"+account+".example") {
			p.t.Errorf("row %q after the kill (seen %d times)", e, seen[e])
		}
	}
	if len(page.Rows) > n {
		p.t.Errorf("%d rows after the kill, want at most %d", len(page.Rows), n)
	}
	p.t.Logf("%d of %d contacts were committed before the kill", len(page.Rows), n)
}
