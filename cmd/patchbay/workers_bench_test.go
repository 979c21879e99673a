package main

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkWorkerProcesses measures throughput with 1, 2 and 4 worker
// processes on this machine: 400 scheduled syncs over 8 HubSpot accounts
// (so that the fake's per-account limit of 110 calls per 10 s allows 88
// calls/s in all), each run one provider call plus its bookkeeping in
// PostgreSQL. The clock starts when the syncs become due, after the workers
// are up. ms/run is the mean time a run_sync job ran. Run it with:
//
//	eval "$(./scripts/test-env.sh)" && go test -run '^$' -bench BenchmarkWorkerProcesses -benchtime 1x ./cmd/patchbay/
func BenchmarkWorkerProcesses(b *testing.B) {
	for _, n := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("workers=%d", n), func(b *testing.B) {
			for range b.N {
				benchWorkers(b, n)
			}
		})
	}
}

func benchWorkers(b *testing.B, workers int) {
	b.StopTimer()
	c := newCluster(b, map[string]string{"PATCHBAY_JOB_CONCURRENCY": "10"})
	var accounts []string
	for i := range 8 {
		accounts = append(accounts, fmt.Sprintf("acct-b%d", i))
	}
	ids := c.syncsDue(accounts, 50, time.Now().Add(time.Hour))
	for range workers {
		c.startWorker()
	}
	c.waitFor("the workers' leader", 30*time.Second, func() bool { return c.count(`SELECT count(*) FROM river_leader`) == 1 })
	before := c.fake().Stats()
	b.StartTimer()
	begin := time.Now()
	if _, err := c.db.Exec(`UPDATE syncs SET next_run_at = now()`); err != nil {
		b.Fatal(err)
	}
	c.waitFor("every run", 5*time.Minute, func() bool { return c.count(`SELECT count(*) FROM testhook_effects`) == len(ids) })
	elapsed := time.Since(begin)
	b.StopTimer()
	after := c.fake().Stats()
	var run float64
	if err := c.db.QueryRow(`SELECT extract(epoch FROM avg(finalized_at - attempted_at)) FROM river_job WHERE kind='run_sync'`).Scan(&run); err == nil {
		b.ReportMetric(run*1000, "ms/run")
	}
	b.ReportMetric(float64(len(ids))/elapsed.Minutes(), "syncs/min")
	b.ReportMetric(float64(after.Calls-before.Calls)/elapsed.Seconds(), "calls/s")
	b.ReportMetric(float64(after.RateLimited-before.RateLimited), "429s")
}
