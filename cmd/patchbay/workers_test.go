package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
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

var (
	buildOnce sync.Once
	buildBin  string
	buildErr  error
)

func workerBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "patchbay-bin")
		if err != nil {
			buildErr = err
			return
		}
		buildBin = filepath.Join(dir, "patchbay")
		out, err := exec.Command("go", "build", "-tags", "patchbaytest", "-o", buildBin, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildBin
}

// cluster is a serve (in the test process) and the database the workers share.
type cluster struct {
	t   *testing.T
	dsn string
	e   *apptest.Env
	db  *sql.DB
	bin string
	env map[string]string
}

func newCluster(t *testing.T, env map[string]string) *cluster {
	t.Helper()
	dsn := store.TestDSN(t, store.Postgres)
	bin := workerBinary(t)
	e := apptest.Start(t, apptest.Options{Database: dsn, Env: map[string]string{"PATCHBAY_JOB_CONCURRENCY": "0"}})
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
	}
	for k, v := range env {
		w[k] = v
	}
	return &cluster{t: t, dsn: dsn, e: e, db: db, bin: bin, env: w}
}

type worker struct {
	cmd  *exec.Cmd
	out  *bytes.Buffer
	done chan struct{}
	err  error
}

func (c *cluster) startWorker() *worker {
	c.t.Helper()
	cmd := exec.Command(c.bin, "worker")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range c.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
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
		if c.t.Failed() {
			c.t.Logf("worker %d output:\n%s", cmd.Process.Pid, w.out)
		}
	})
	return w
}

// syncs connects one HubSpot account per element of accounts and gives each
// connection perAccount syncs due now.
func (c *cluster) syncs(accounts []string, perAccount int) []string {
	c.t.Helper()
	ctx := context.Background()
	st := c.e.Store()
	var ids []string
	for _, acct := range accounts {
		connID := c.e.ConnectOAuth("hubspot", acct, nil)
		tb := &store.Table{WorkspaceID: app.DefaultWorkspace, Name: "T " + acct, Columns: []store.Column{{Name: "email", Type: "text"}}}
		err := st.InTx(ctx, func(tx *store.Tx) error {
			if err := tx.CreateTable(ctx, tb); err != nil {
				return err
			}
			for range perAccount {
				y := &store.Sync{WorkspaceID: app.DefaultWorkspace, ConnectionID: connID, TableID: tb.ID, Direction: "inbound",
					Object: "contacts", Schedule: "every:15m", NextRunAt: time.Now().Add(-time.Second)}
				if err := tx.CreateSync(ctx, y); err != nil {
					return err
				}
				ids = append(ids, y.ID)
			}
			return nil
		})
		if err != nil {
			c.t.Fatal(err)
		}
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

func (c *cluster) fake() *fakehubspot.Fake { return c.e.Fakes["hubspot"].Handler.(*fakehubspot.Fake) }

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
