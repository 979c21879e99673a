package bench_test

import (
	"context"
	"strings"
	"testing"

	"patchbay/internal/bench"
)

// TestQuickSuiteOnHubSpot runs the per-provider part of `patchbay bench
// --quick` on HubSpot, so that the suite keeps working: both directions move
// every record (Run fails otherwise) without a single request beyond
// HubSpot's limit. How near the maximum they come is the suite's figure, not
// this test's: under the race detector the engine is several times slower,
// and a quick run fits in one window of HubSpot's rolling limit, which it may
// spend at once (no maximum applies then).
func TestQuickSuiteOnHubSpot(t *testing.T) {
	t.Parallel()
	rep, err := bench.Run(context.Background(), bench.Options{Quick: true, Providers: []string{"hubspot"}, Parts: []string{"providers"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Rows) != 2 {
		t.Fatalf("rows = %+v, want hubspot inbound and outbound", rep.Rows)
	}
	for _, r := range rep.Rows {
		if r.Beyond != 0 || r.Requests < 10 || r.Rate <= 0 || r.Fraction() > 1.2 {
			t.Errorf("%s: %+v (%.0f %% of the limit-bound maximum)", r.Name, r, 100*r.Fraction())
		}
	}
	var out strings.Builder
	if err := rep.Write(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"hubspot inbound", "hubspot outbound", "beyond limit"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

func TestRunRefusesUnknownNames(t *testing.T) {
	t.Parallel()
	for _, o := range []bench.Options{{Parts: []string{"speed"}}, {Providers: []string{"myspace"}}} {
		if _, err := bench.Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "choose from") {
			t.Errorf("Run(%+v) = %v, want an error naming the choices", o, err)
		}
	}
}
