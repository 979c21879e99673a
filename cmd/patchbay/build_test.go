package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// builds caches one binary per set of build tags for the tests that run
// patchbay as real processes.
var builds sync.Map // tags → *build

type build struct {
	once sync.Once
	bin  string
	err  error
}

// buildPatchbay builds the command once per tags ("" for none) and returns the binary.
func buildPatchbay(t testing.TB, tags string) string {
	t.Helper()
	v, _ := builds.LoadOrStore(tags, &build{})
	b := v.(*build)
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", "patchbay-bin")
		if err != nil {
			b.err = err
			return
		}
		b.bin = filepath.Join(dir, "patchbay")
		args := []string{"build", "-o", b.bin}
		if tags != "" {
			args = append(args, "-tags", tags)
		}
		out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
		if err != nil {
			b.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.bin
}
