package main

import (
	"bytes"
	"context"
	"database/sql"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"patchbay/internal/app"
	"patchbay/internal/app/apptest"
	fakehubspot "patchbay/internal/fakes/hubspot"
	"patchbay/internal/store"
)

// The tests in this file run real `patchbay worker` processes on a real
// PostgreSQL: the binary is built once with -tags patchbaytest, which plugs a
// recording function in as the sync engine (hooks_patchbaytest.go). The
// serve beside them is the test process itself (apptest), enqueue-only, with
// the provider fakes that the workers call over HTTP.

func workerBinary(t testing.TB) string {
	t.Helper()
	return buildPatchbay(t, "patchbaytest")
}

// cluster is a serve (in the test process) and the database the workers share.
type cluster struct {
	t   testing.TB
	dsn string
	e   *apptest.Env
	hub *fakehubspot.Fake
	db  *sql.DB
	bin string
	env map[string]string
}

func newCluster(t testing.TB, env map[string]string) *cluster {
	t.Helper()
	return newClusterWith(t, env, nil)
}

// newClusterWith is newCluster with the HubSpot fake's handler wrapped (nil: as it is).
func newClusterWith(t testing.TB, env map[string]string, wrap func(http.Handler) http.Handler) *cluster {
	t.Helper()
	dsn := store.TestDSN(t, store.Postgres)
	bin := workerBinary(t)
	var hub *fakehubspot.Fake
	fakes := func() map[string]app.Fake {
		f := app.DemoFakes()
		h := f["hubspot"]
		hub = h.Handler.(*fakehubspot.Fake)
		if wrap != nil {
			h.Handler = wrap(h.Handler)
			f["hubspot"] = h
		}
		return f
	}
	e := apptest.Start(t, apptest.Options{Database: dsn, Fakes: fakes, Env: map[string]string{"PATCHBAY_JOB_CONCURRENCY": "0"}})
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, q := range []string{
		`CREATE TABLE testhook_runs (id BIGSERIAL PRIMARY KEY, sync_id TEXT NOT NULL, trigger TEXT NOT NULL, pid INTEGER NOT NULL, at TIMESTAMPTZ NOT NULL DEFAULT now())`,
		`CREATE TABLE testhook_effects (sync_id TEXT PRIMARY KEY, pid INTEGER NOT NULL)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	w := map[string]string{
		"PATCHBAY_DATABASE_URL": dsn, "PATCHBAY_DATA": e.App.Config.DataDir, "PATCHBAY_LOG_LEVEL": "warn",
		"PATCHBAY_HUBSPOT_CLIENT_ID": "patchbay-demo", "PATCHBAY_HUBSPOT_CLIENT_SECRET": "patchbay-demo-secret",
		"PATCHBAY_TESTHOOK_PROVIDER_URLS": "hubspot=" + e.URL + "/_fakes/hubspot",
		"PATCHBAY_SWEEP_INTERVAL":         "1s",
		"PATCHBAY_ALLOW_PRIVATE_NETWORKS": "true", // the fakes are on loopback
	}
	for k, v := range env {
		w[k] = v
	}
	return &cluster{t: t, dsn: dsn, e: e, hub: hub, db: db, bin: bin, env: w}
}

type worker struct {
	cmd  *exec.Cmd
	out  *bytes.Buffer
	done chan struct{}
	err  error
}

// startWorker starts a `patchbay worker` with the cluster's settings plus env.
func (c *cluster) startWorker(env ...string) *worker {
	c.t.Helper()
	cmd := exec.Command(c.bin, "worker")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range c.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, env...)
	w := &worker{cmd: cmd, out: &bytes.Buffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = w.out, w.out
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	go func() {
		w.err = cmd.Wait()
		close(w.done)
	}()
	c.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-w.done
		if out := w.out.Bytes(); c.t.Failed() && len(out) > 0 {
			c.t.Logf("worker %d output (end):\n%s", cmd.Process.Pid, out[max(0, len(out)-2000):])
		}
	})
	return w
}

// syncs connects one HubSpot account per element of accounts and gives each
// connection perAccount syncs due now.
func (c *cluster) syncs(accounts []string, perAccount int) []string {
	return c.syncsDue(accounts, perAccount, time.Now().Add(-time.Second))
}

// syncsDue is syncs with the first run at due. The syncs are created round
// robin over the accounts, so that runs in due order spread over them.
func (c *cluster) syncsDue(accounts []string, perAccount int, due time.Time) []string {
	c.t.Helper()
	ctx := context.Background()
	st := c.e.Store()
	var conns, tables []string
	for _, acct := range accounts {
		conns = append(conns, c.e.ConnectOAuth("hubspot", acct, nil))
	}
	var ids []string
	err := st.InTx(ctx, func(tx *store.Tx) error {
		for _, acct := range accounts {
			tb := &store.Table{WorkspaceID: app.DefaultWorkspace, Name: "T " + acct, Columns: []store.Column{{Name: "email", Type: "text"}}}
			if err := tx.CreateTable(ctx, tb); err != nil {
				return err
			}
			tables = append(tables, tb.ID)
		}
		for range perAccount {
			for i := range accounts {
				y := &store.Sync{WorkspaceID: app.DefaultWorkspace, ConnectionID: conns[i], TableID: tables[i], Direction: "inbound",
					Object: "contacts", Schedule: "every:15m", NextRunAt: due}
				if err := tx.CreateSync(ctx, y); err != nil {
					return err
				}
				ids = append(ids, y.ID)
			}
		}
		return nil
	})
	if err != nil {
		c.t.Fatal(err)
	}
	return ids
}

func (c *cluster) count(q string, args ...any) int {
	c.t.Helper()
	var n int
	if err := c.db.QueryRow(q, args...).Scan(&n); err != nil {
		c.t.Fatal(err)
	}
	return n
}

// waitFor polls the database until cond holds (the workers are other
// processes: there is no in-process signal to wait on).
func (c *cluster) waitFor(what string, limit time.Duration, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			c.t.Fatalf("%s: not after %s", what, limit)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c *cluster) fake() *fakehubspot.Fake { return c.hub }

func TestWorkersShareScheduledSyncsExactlyOnce(t *testing.T) {
	t.Parallel()
	c := newCluster(t, nil)
	// Four accounts so that 200 provider calls stay within HubSpot's
	// per-account limit (110 per 10 s).
	ids := c.syncs([]string{"acct-w0", "acct-w1", "acct-w2", "acct-w3"}, 50)
	for range 3 {
		c.startWorker()
	}
	c.waitFor("every sync run", 90*time.Second, func() bool {
		return c.count(`SELECT count(*) FROM testhook_effects`) == len(ids)
	})
	if n := c.count(`SELECT count(*) FROM testhook_runs`); n != len(ids) {
		rows := c.count(`SELECT count(*) FROM (SELECT sync_id FROM testhook_runs GROUP BY sync_id HAVING count(*) > 1) d`)
		t.Fatalf("%d executions for %d syncs (%d syncs ran more than once)", n, len(ids), rows)
	}
	if n := c.count(`SELECT count(DISTINCT pid) FROM testhook_runs`); n < 2 {
		t.Fatalf("only %d worker process(es) took part", n)
	}
	if n := c.count(`SELECT count(*) FROM syncs WHERE next_run_at IS NOT NULL`); n != 0 {
		t.Fatalf("%d syncs still due", n)
	}
}

// exited waits up to limit for the worker to exit and returns how long it took.
func (w *worker) exited(t *testing.T, limit time.Duration) time.Duration {
	t.Helper()
	begin := time.Now()
	select {
	case <-w.done:
		return time.Since(begin)
	case <-time.After(limit):
		t.Fatalf("worker %d still running %s after the signal", w.cmd.Process.Pid, limit)
		return 0
	}
}

func TestWorkerSIGTERMFinishesOrHandsBackRunningJobs(t *testing.T) {
	t.Parallel()
	c := newCluster(t, map[string]string{"PATCHBAY_JOB_CONCURRENCY": "1"})
	ids := c.syncs([]string{"acct-term"}, 2)

	// A run that fits in the shutdown timeout is finished before the exit.
	w := c.startWorker("PATCHBAY_TESTHOOK_RUN_DELAY=2s", "PATCHBAY_SHUTDOWN_TIMEOUT=10s")
	c.waitFor("a run started", 30*time.Second, func() bool { return c.count(`SELECT count(*) FROM testhook_runs`) == 1 })
	if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if d := w.exited(t, 15*time.Second); d > 12*time.Second {
		t.Fatalf("exit took %s", d)
	}
	if w.err != nil {
		t.Fatalf("worker exit: %v\n%s", w.err, w.out)
	}
	if n := c.count(`SELECT count(*) FROM testhook_effects`); n != 1 {
		t.Fatalf("%d effects after a graceful stop mid-run, want the running job finished", n)
	}

	// A run longer than the shutdown timeout is cancelled and handed back:
	// the process exits in time, the job waits as retryable, and the next
	// worker completes it.
	w = c.startWorker("PATCHBAY_TESTHOOK_RUN_DELAY=30s", "PATCHBAY_SHUTDOWN_TIMEOUT=1s")
	c.waitFor("the second run started", 30*time.Second, func() bool { return c.count(`SELECT count(*) FROM testhook_runs`) == 2 })
	if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if d := w.exited(t, 15*time.Second); d > 10*time.Second {
		t.Fatalf("exit took %s with a 1 s shutdown timeout", d)
	}
	if n := c.count(`SELECT count(*) FROM river_job WHERE kind='run_sync' AND state IN ('retryable', 'available')`); n != 1 {
		t.Fatalf("%d run_sync jobs handed back, want 1", n)
	}
	c.startWorker()
	c.waitFor("the handed-back run completed", 30*time.Second, func() bool {
		return c.count(`SELECT count(*) FROM testhook_effects`) == len(ids)
	})
}

func TestWorkerSIGKILLMidRunIsPickedUpByAnother(t *testing.T) {
	t.Parallel()
	// River hands the jobs of a dead worker on once they ran longer than
	// RescueAfter (job timeout + a quarter); its leader checks every 30 s.
	c := newCluster(t, map[string]string{"PATCHBAY_JOB_CONCURRENCY": "1", "PATCHBAY_JOB_TIMEOUT": "4s", "PATCHBAY_TESTHOOK_RUN_DELAY": "2s"})
	ids := c.syncs([]string{"acct-kill"}, 6)
	workers := map[int]*worker{}
	for range 2 {
		w := c.startWorker()
		workers[w.cmd.Process.Pid] = w
	}
	// Kill the worker that is not the leader while it is in a run.
	var victim int
	c.waitFor("a non-leader worker in a run", 30*time.Second, func() bool {
		var leader string
		if err := c.db.QueryRow(`SELECT leader_id FROM river_leader`).Scan(&leader); err != nil {
			return false
		}
		rows, err := c.db.Query(`SELECT pid FROM testhook_runs r WHERE NOT EXISTS (SELECT 1 FROM testhook_effects e WHERE e.sync_id = r.sync_id)`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var pid int
			if err := rows.Scan(&pid); err != nil {
				t.Fatal(err)
			}
			if !strings.HasSuffix(leader, "-"+strconv.Itoa(pid)) && workers[pid] != nil {
				victim = pid
				return true
			}
		}
		return false
	})
	if err := workers[victim].cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	workers[victim].exited(t, 5*time.Second)
	var killedSync string
	if err := c.db.QueryRow(`SELECT sync_id FROM testhook_runs r WHERE pid=$1 AND NOT EXISTS (SELECT 1 FROM testhook_effects e WHERE e.sync_id = r.sync_id)`,
		victim).Scan(&killedSync); err != nil {
		t.Fatal(err)
	}
	c.waitFor("every sync's effect, the killed run's included", 90*time.Second, func() bool {
		return c.count(`SELECT count(*) FROM testhook_effects`) == len(ids)
	})
	if n := c.count(`SELECT count(*) FROM testhook_runs WHERE sync_id=$1`, killedSync); n < 2 {
		t.Fatalf("the killed run was executed %d time(s), want a second execution by another worker", n)
	}
	if n := c.count(`SELECT count(*) FROM testhook_effects WHERE sync_id=$1 AND pid<>$2`, killedSync, victim); n != 1 {
		t.Fatalf("the killed run's effect was not written by another worker")
	}
	c.waitFor("every run_sync job completed", 10*time.Second, func() bool {
		return c.count(`SELECT count(*) FROM river_job WHERE kind='run_sync' AND state<>'completed'`) == 0
	})
}

// Fifty worker processes meet the same refused token at once: each run
// probes the connection, gets a 401 and asks for a refresh. The lock across
// processes lets one of them refresh; the others re-read and use the new token.
func TestFiftyWorkerProcessesRefreshOnce(t *testing.T) {
	t.Parallel()
	const n = 50
	barrier := filepath.Join(t.TempDir(), "go")
	// The token endpoint answers after 300 ms, as a provider's may: fifty
	// processes on two cores leave the barrier over some tens of
	// milliseconds, and without the delay the later ones would read the new
	// token instead of meeting the expired one.
	slowToken := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/oauth/v1/token" {
				time.Sleep(300 * time.Millisecond)
			}
			h.ServeHTTP(w, r)
		})
	}
	c := newClusterWith(t, map[string]string{"PATCHBAY_JOB_CONCURRENCY": "1", "PATCHBAY_TESTHOOK_BARRIER": barrier}, slowToken)
	ids := c.syncs([]string{"acct-fifty"}, n)
	for range n {
		c.startWorker()
	}
	// Each process holds one run at the barrier; once all fifty are there,
	// the token expires at the provider and the runs go at once.
	c.waitFor("fifty runs in fifty processes", 60*time.Second, func() bool {
		return c.count(`SELECT count(DISTINCT pid) FROM testhook_runs`) == n
	})
	c.e.Control("hubspot", "expire", map[string]string{"account": "acct-fifty"})
	before := c.fake().Stats()
	if err := os.WriteFile(barrier, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	c.waitFor("every run", 90*time.Second, func() bool { return c.count(`SELECT count(*) FROM testhook_effects`) == len(ids) })
	after := c.fake().Stats()
	if got := after.TokensRefreshed - before.TokensRefreshed; got != 1 {
		t.Fatalf("%d refreshes at the provider, want exactly 1", got)
	}
	if got := after.RefreshTokensReused - before.RefreshTokensReused; got != 0 {
		t.Fatalf("%d refresh tokens reused", got)
	}
	// A run whose identity call was refused calls again after the refresh:
	// calls beyond one per run show that the runs met the expired token.
	again := int(after.Calls-before.Calls) - n
	t.Logf("%d processes, one run each; %d calls beyond one per run (refused, then retried); 1 refresh", n, again)
	if again < n/2 {
		t.Fatalf("only %d repeated calls; the runs did not meet the expired token together", again)
	}
}
