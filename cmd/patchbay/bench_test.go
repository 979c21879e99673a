package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestBenchAPIWithSyncs runs `patchbay bench api --syncs` briefly, as a
// second process, against a demo process: the dashboard reads are measured
// while syncs of the HubSpot fake run in the same server. The figures come
// from the full command (README, "Measuring"); this checks the harness.
func TestBenchAPIWithSyncs(t *testing.T) {
	t.Parallel()
	p := startDemo(t, t.TempDir(), freeAddr(t))
	cmd := exec.Command(binary(t), "bench", "api", "--url", p.url, "--rate", "100", "--duration", "3s", "--seed", "3", "--syncs", "4", "--records", "200")
	cmd.Env = append(os.Environ(), "PATCHBAY_TOKEN="+faultToken)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "300 requests") || !strings.Contains(string(out), "meanwhile 4 syncs") {
		t.Fatalf("report:\n%s", out)
	}
	t.Log(strings.TrimSpace(string(out)))
}
