package main

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkSIGKILLToResumed SIGKILLs a worker in the middle of a real inbound
// sync (its fifth page held at the fake) while a second worker runs, and
// measures the time until the second worker has taken the sync over (a new
// lease) and committed a page after the killed run's last one. Defaults:
// 15 s lease, sweep every second here (15 s by default: add up to 14 s). Run with:
//
//	eval "$(./scripts/test-env.sh)" && go test -run '^$' -bench BenchmarkSIGKILLToResumed -benchtime 1x ./cmd/patchbay/
func BenchmarkSIGKILLToResumed(b *testing.B) {
	const records = 1000
	var listed atomic.Int64
	tokens := make(chan struct{}, records)
	wrap := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.URL.Path, "/crm/v3/objects/contacts") && (r.Method == http.MethodGet || strings.HasSuffix(r.URL.Path, "/search")) {
				switch n := listed.Add(1); {
				case n <= 4:
					<-tokens
				case n == 5:
					<-r.Context().Done() // the killed run's page never comes back
					return
				}
			}
			h.ServeHTTP(w, r)
		})
	}
	for range b.N {
		listed.Store(0)
		c := newClusterWith(b, map[string]string{"PATCHBAY_TESTHOOK_SYNC": "engine"}, wrap)
		ids, _ := c.realSyncs([]string{"acct-resume"}, 1, records, time.Now().Add(-time.Second))
		victim := c.startWorker()
		for range 4 {
			tokens <- struct{}{}
		}
		c.waitFor("the run at its fifth page", 60*time.Second, func() bool { return listed.Load() == 5 })
		var token int
		if err := c.db.QueryRow(`SELECT lease_token FROM syncs WHERE id=$1`, ids[0]).Scan(&token); err != nil {
			b.Fatal(err)
		}
		c.startWorker()
		pagesBefore := c.count(`SELECT count(*) FROM table_rows`)
		begin := time.Now()
		if err := victim.cmd.Process.Kill(); err != nil {
			b.Fatal(err)
		}
		c.waitFor("resumed", 120*time.Second, func() bool {
			return c.count(`SELECT count(*) FROM syncs WHERE id=$1 AND lease_token>$2`, ids[0], token) == 1 &&
				c.count(`SELECT count(*) FROM table_rows`) > pagesBefore
		})
		b.ReportMetric(time.Since(begin).Seconds(), "s-to-resumed")
	}
}
