package main

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A run's database connections are cut (pg_terminate_backend on every
// backend of the worker running it, the lock's or lease's holder included)
// in the middle of a run, and a second run of the same sync is asked for at
// once by hand: the table still ends with exactly one row per record. The
// provider's list requests wait at a gate the test opens, so "mid-run" is a
// state, not a moment.
func TestDroppedConnectionsMidRunLeaveNoDuplicateRows(t *testing.T) {
	t.Parallel()
	const records = 1000 // ten pages
	var listed atomic.Int64
	tokens, open := make(chan struct{}, records), make(chan struct{})
	wrap := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.URL.Path, "/crm/v3/objects/contacts") && (r.Method == http.MethodGet || strings.HasSuffix(r.URL.Path, "/search")) {
				listed.Add(1)
				select {
				case <-tokens:
				case <-open:
				case <-r.Context().Done():
					return
				}
			}
			h.ServeHTTP(w, r)
		})
	}
	c := newClusterWith(t, map[string]string{"PATCHBAY_TESTHOOK_SYNC": "engine"}, wrap)
	ids, tables := c.realSyncs([]string{"acct-drop"}, 1, records, time.Now().Add(-time.Second))
	const app = "patchbay-drop-test"
	c.startWorker("PATCHBAY_DATABASE_URL=" + c.dsn + "&application_name=" + app)
	for range 3 {
		tokens <- struct{}{}
	}
	c.waitFor("the worker's run at its fourth page", 60*time.Second, func() bool { return listed.Load() == 4 })
	var pids []int
	rows, err := c.db.Query(`SELECT pid FROM pg_stat_activity WHERE application_name = $1`, app)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pid)
	}
	rows.Close()
	if len(pids) == 0 {
		t.Fatal("no backend of the worker to terminate")
	}
	for _, pid := range pids {
		c.count(`SELECT count(*) FROM (SELECT pg_terminate_backend($1)) k`, pid)
	}
	// Termination is asynchronous: wait until those backends are gone (and
	// with them any session lock they held).
	c.waitFor("the worker's backends gone", 30*time.Second, func() bool {
		n := 0
		for _, pid := range pids {
			n += c.count(`SELECT count(*) FROM pg_stat_activity WHERE pid = $1`, pid)
		}
		return n == 0
	})
	second := make(chan int, 1)
	go func() {
		code, _ := c.e.Do("POST", "/syncs/"+ids[0]+"/run", nil, nil)
		second <- code
	}()
	// Either the second run starts (and waits at the gate) or it is refused.
	var code int
	c.waitFor("the second run started or refused", 60*time.Second, func() bool {
		select {
		case code = <-second:
			return true
		default:
			return listed.Load() > 4
		}
	})
	close(open)
	if code == 0 {
		code = <-second
	}
	t.Logf("the second run was answered %d", code)
	c.waitFor("every record in the table and no run left", 90*time.Second, func() bool {
		return c.count(`SELECT count(*) FROM table_rows WHERE table_id=$1 AND deleted_at IS NULL`, tables[0]) >= records &&
			c.count(`SELECT count(*) FROM sync_runs WHERE status='running'`) == 0 &&
			c.count(`SELECT count(*) FROM river_job WHERE kind='run_sync' AND state NOT IN ('completed','cancelled','discarded')`) == 0
	})
	if n := c.count(`SELECT count(*) FROM table_rows WHERE table_id=$1`, tables[0]); n != records {
		t.Fatalf("%d rows for %d records", n, records)
	}
	if n := c.count(`SELECT count(DISTINCT vals::json->>'email') FROM table_rows WHERE table_id=$1`, tables[0]); n != records {
		t.Fatalf("%d distinct e-mails for %d records", n, records)
	}
}
