package main

import (
	"os"
	"os/exec"
	"testing"

	"patchbay/internal/store"
)

// Five `patchbay migrate` processes started at once on an empty PostgreSQL
// database all succeed: the migration lock makes them take turns, and those
// that come second find nothing left to do.
func TestConcurrentMigrateAllSucceed(t *testing.T) {
	t.Parallel()
	dsn := store.TestDSN(t, store.Postgres)
	bin := buildPatchbay(t, "")
	const n = 5
	cmds := make([]*exec.Cmd, n)
	outs := make([][]byte, n)
	errs := make(chan error, n)
	for i := range n {
		cmd := exec.Command(bin, "migrate")
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "PATCHBAY_DATABASE_URL=" + dsn, "PATCHBAY_DATA=" + t.TempDir()}
		cmds[i] = cmd
	}
	for i, cmd := range cmds {
		go func() {
			var err error
			outs[i], err = cmd.CombinedOutput()
			errs <- err
		}()
	}
	failed := 0
	for range n {
		if err := <-errs; err != nil {
			failed++
		}
	}
	if failed > 0 {
		for i := range n {
			t.Logf("migrate %d: %s", i, outs[i])
		}
		t.Fatalf("%d of %d concurrent migrate runs failed", failed, n)
	}
}
