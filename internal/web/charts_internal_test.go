package web

import "testing"

func TestRunsChartDrawsRecordsPerRun(t *testing.T) {
	t.Parallel()
	p := syncPanel{Runs: []runInfo{ // newest first, as the API lists them
		{Status: "failed", Created: 0, Failed: 5},
		{Status: "succeeded", Created: 10, Unchanged: 10},
		{Status: "succeeded"},
	}}
	bars := p.Chart()
	if len(bars) != 3 {
		t.Fatalf("%d bars", len(bars))
	}
	for _, tc := range []struct {
		i           int
		class       string
		okH, badH   float64
		leftOfNextX bool
	}{
		{0, "succeeded", 1, 0, true},                        // nothing written still shows a sliver
		{1, "succeeded", chartHeight - 2, 0, true},          // the most records fill the height
		{2, "failed", 0, (chartHeight - 2) * 5 / 20, false}, // failed records on top, in proportion
	} {
		b := bars[tc.i]
		if b.Class != tc.class || b.OKH != tc.okH && !(tc.okH == 0 && b.OKH == 0) || b.BadH != tc.badH {
			t.Errorf("bar %d: %+v, want class %s ok %.1f bad %.1f", tc.i, b, tc.class, tc.okH, tc.badH)
		}
		if tc.leftOfNextX && b.X >= bars[tc.i+1].X {
			t.Errorf("bar %d is not left of the next: oldest must come first", tc.i)
		}
	}
}
