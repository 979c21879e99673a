package web

import (
	"fmt"
	"time"
)

// Pictures drawn on the server as plain SVG (no script, no CDN; the CSP
// allows no inline style, so colours come from classes in app.css).

// runBar is one run of a sync in its runs chart.
type runBar struct {
	X, W     float64
	OKY, OKH float64 // records written or unchanged
	BadY     float64 // failed records, on top
	BadH     float64
	Class    string // the run's status: succeeded, failed, running…
	Title    string
}

// chartHeight and chartWidth are the runs chart's viewBox.
const chartHeight, chartWidth = 40.0, 200.0

// Chart is the shown runs, oldest first, as bars of records per run: the
// failed records in red on top, a failed run's bar outlined red. The title
// of each bar says the run's counts and length.
func (p syncPanel) Chart() []runBar {
	n := len(p.Runs)
	if n == 0 {
		return nil
	}
	most := 1
	for _, r := range p.Runs {
		most = max(most, r.Created+r.Updated+r.Unchanged+r.Failed)
	}
	slot := chartWidth / float64(runsShown)
	var out []runBar
	for i := range p.Runs {
		r := p.Runs[n-1-i] // oldest first
		ok := float64(r.Created+r.Updated+r.Unchanged) / float64(most) * (chartHeight - 2)
		bad := float64(r.Failed) / float64(most) * (chartHeight - 2)
		if ok+bad < 1 {
			ok = 1 // a run that wrote nothing still shows
		}
		took := ""
		if r.StartedAt != nil && r.FinishedAt != nil {
			took = ", took " + r.FinishedAt.Sub(*r.StartedAt).Round(time.Millisecond).String()
		}
		out = append(out, runBar{X: float64(i)*slot + 2, W: slot - 4, OKY: chartHeight - ok, OKH: ok, BadY: chartHeight - ok - bad, BadH: bad,
			Class: r.Status, Title: fmt.Sprintf("%s run, %s: read %d, created %d, updated %d, unchanged %d, failed %d%s",
				r.Trigger, r.Status, r.Read, r.Created, r.Updated, r.Unchanged, r.Failed, took)})
	}
	return out
}
