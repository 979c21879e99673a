// Package bench is Patchbay's benchmark suite (`patchbay bench`): it starts
// whole Patchbay processes inside this one, with the provider fakes on their
// loopback listeners at the providers' documented limits (or at none), and
// measures what the sync engine, enrichment, the health monitor and the API
// achieve: records per second against the limit-bound maximum, with the
// requests each fake refused for a limit (which must be none), the engine's
// own speed, peak memory of large runs, the health sweep of 10,000
// connections, enrichment lookups per second and API latency under load.
package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"patchbay/internal/syncer"
)

// Options choose what the suite runs and how long.
type Options struct {
	// Quick shortens every part (a few seconds each) for smoke tests.
	Quick bool
	// Million streams 1,000,000 records in and out for the memory figures
	// (default 100,000; quick 20,000).
	Million bool
	// Providers limits the per-provider runs to these ids (nil: all five).
	Providers []string
	// Parts limits the suite to some of "providers", "engine", "memory",
	// "health", "enrich", "api" (nil: all).
	Parts []string
	// Progress, when set, is told what runs as it starts.
	Progress io.Writer
}

// Parts are the suite's parts in the order they run.
var Parts = []string{"providers", "engine", "memory", "health", "enrich", "api"}

// Row is one figure of the report.
type Row struct {
	Part   string // providers, engine, memory, health, enrich, api
	Name   string // e.g. "hubspot inbound"
	Amount int    // records, connections, rows or requests
	Took   time.Duration
	Rate   float64 // per second (records, probes, lookups, requests)
	Unit   string  // of Rate
	// Max is the limit-bound maximum of Rate (0: none applies).
	Max float64
	// Floor is the rate of the same work done raw (no engine), measured in
	// the same run (0: none measured).
	Floor float64
	// Requests the run sent to the fake and the fake refused for a limit; -1 when not counted.
	Requests, Beyond int64
	Note             string
}

// Fraction is Rate as a share of Max (0 when no limit applies).
func (r Row) Fraction() float64 {
	if r.Max <= 0 {
		return 0
	}
	return r.Rate / r.Max
}

// Report is everything a suite run measured.
type Report struct {
	Rows []Row
}

// Run runs the suite.
func Run(ctx context.Context, o Options) (*Report, error) {
	for _, p := range o.Parts {
		if !slices.Contains(Parts, p) {
			return nil, fmt.Errorf("unknown part %q; choose from %s", p, strings.Join(Parts, ", "))
		}
	}
	known := map[string]bool{}
	for _, p := range providers() {
		known[p.id] = true
	}
	for _, id := range o.Providers {
		if !known[id] {
			return nil, fmt.Errorf("unknown provider %q; choose from hubspot, salesforce, airtable, shopify, mailchimp", id)
		}
	}
	rep := &Report{}
	steps := []struct {
		part string
		run  func(context.Context, Options) ([]Row, error)
	}{
		{"providers", runProviders}, {"engine", runEngine}, {"memory", runMemory},
		{"health", runHealth}, {"enrich", runEnrich}, {"api", runAPI},
	}
	for _, s := range steps {
		if len(o.Parts) > 0 && !slices.Contains(o.Parts, s.part) {
			continue
		}
		rows, err := s.run(ctx, o)
		rep.Rows = append(rep.Rows, rows...)
		if err != nil {
			return rep, fmt.Errorf("%s: %w", s.part, err)
		}
	}
	return rep, nil
}

func (o Options) progress(format string, args ...any) {
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, format+"\n", args...)
	}
}

// limitWindow is how long a limit-bound run lasts, about.
func (o Options) limitWindow() time.Duration {
	if o.Quick {
		return 4 * time.Second
	}
	return 15 * time.Second
}

func (o Options) pick(quick, full int) int {
	if o.Quick {
		return quick
	}
	return full
}

// runProviders syncs each provider's records in and out at its documented
// limit, one fresh Patchbay per provider.
func runProviders(ctx context.Context, o Options) ([]Row, error) {
	var rows []Row
	for _, p := range providers() {
		if len(o.Providers) > 0 && !slices.Contains(o.Providers, p.id) {
			continue
		}
		got, err := runProvider(ctx, o, p)
		rows = append(rows, got...)
		if err != nil {
			return rows, err
		}
	}
	return rows, nil
}

func runProvider(ctx context.Context, o Options, p provider) ([]Row, error) {
	var rows []Row
	for _, dir := range []string{syncer.Inbound, syncer.Outbound} {
		row, err := runLimited(ctx, o, p, dir)
		rows = append(rows, row)
		if err != nil {
			return rows, err
		}
	}
	return rows, nil
}

// runLimited runs one direction on a fresh Patchbay, so that every run
// starts with a fresh budget and a fresh fake (Shopify's full bucket).
func runLimited(ctx context.Context, o Options, p provider, dir string) (Row, error) {
	in, err := start(ctx, setup{})
	if err != nil {
		return Row{}, err
	}
	defer in.close()
	conn, err := in.connectOAuth(ctx, p.id, p.account, p.config)
	if err != nil {
		return Row{}, err
	}
	if p.prepare != nil {
		if err := p.prepare(in); err != nil {
			return Row{}, err
		}
	}
	entry, ok := in.app.Catalog.Get(p.id)
	if !ok {
		return Row{}, fmt.Errorf("no catalog entry %s", p.id)
	}
	b := boundOf(entry, dir)
	n := sizeFor(b, o.limitWindow(), o.pick(3000, 20000))
	o.progress("%s %s: %d records at the documented limit", p.id, dir, n)
	refused0, calls0, err := p.beyond(in)
	if err != nil {
		return Row{}, err
	}
	r, err := runSync(ctx, in, p, conn, dir, n)
	if err != nil {
		return Row{}, err
	}
	refused1, calls1, err := p.beyond(in)
	if err != nil {
		return Row{}, err
	}
	row := Row{Part: "providers", Name: p.id + " " + dir, Amount: n, Took: r.elapsed, Rate: r.perSecond(), Unit: "records/s",
		Requests: calls1 - calls0, Beyond: refused1 - refused0}
	row.Max = b.maxFor(n, row.Requests, r.elapsed)
	if b.daily {
		row.Note = fmt.Sprintf("daily quota: %d requests a day, %.0f records/s averaged over 24 h; a short run is not bound by it",
			entry.RateLimit.Requests, b.recordsPerSecond(r.elapsed))
		row.Max = 0
	}
	if row.Beyond > 0 {
		return row, fmt.Errorf("%s %s: the fake refused %d requests for its limit", p.id, dir, row.Beyond)
	}
	return row, nil
}

// OfFloor is Rate as a share of Floor (0 when no floor was measured).
func (r Row) OfFloor() float64 {
	if r.Floor <= 0 {
		return 0
	}
	return r.Rate / r.Floor
}

// Write prints the report as a table.
func (r *Report) Write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "part\tfigure\tamount\ttime\trate\tlimit-bound max\tof max\traw floor\tof floor\trequests\tbeyond limit\t")
	for _, row := range r.Rows {
		maxS, frac, floor, ofFloor := "—", "—", "—", "—"
		if row.Max > 0 {
			maxS, frac = fmt.Sprintf("%.1f", row.Max), fmt.Sprintf("%.1f %%", 100*row.Fraction())
		}
		if row.Floor > 0 {
			floor, ofFloor = fmt.Sprintf("%.1f", row.Floor), fmt.Sprintf("%.1f %%", 100*row.OfFloor())
		}
		reqs, beyond := "—", "—"
		if row.Requests >= 0 {
			reqs, beyond = fmt.Sprint(row.Requests), fmt.Sprint(row.Beyond)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%.1f %s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", row.Part, row.Name, row.Amount, row.Took.Round(time.Millisecond),
			row.Rate, row.Unit, maxS, frac, floor, ofFloor, reqs, beyond)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, row := range r.Rows {
		if row.Note != "" {
			fmt.Fprintf(w, "  %s: %s\n", row.Name, row.Note)
		}
	}
	return nil
}

// jsonRow is one figure as `patchbay bench --json` prints it (API.md,
// "Benchmarks"): shares as fractions, null where a figure has none.
type jsonRow struct {
	Part          string   `json:"part"`
	Figure        string   `json:"figure"`
	Amount        int      `json:"amount"`
	Seconds       float64  `json:"seconds"`
	Rate          float64  `json:"rate"`
	Unit          string   `json:"unit"`
	LimitBoundMax *float64 `json:"limit_bound_max"`
	OfMax         *float64 `json:"of_max"`
	BeyondLimit   *int64   `json:"beyond_limit"`
	FloorRate     *float64 `json:"floor_rate"`
	OfFloor       *float64 `json:"of_floor"`
}

// WriteJSON prints the report as one JSON object per line per figure.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	for _, row := range r.Rows {
		out := jsonRow{Part: row.Part, Figure: row.Name, Amount: row.Amount, Seconds: row.Took.Seconds(), Rate: row.Rate, Unit: row.Unit}
		if row.Max > 0 {
			m, f := row.Max, row.Fraction()
			out.LimitBoundMax, out.OfMax = &m, &f
		}
		if row.Requests >= 0 {
			b := row.Beyond
			out.BeyondLimit = &b
		}
		if row.Floor > 0 {
			fl, of := row.Floor, row.OfFloor()
			out.FloorRate, out.OfFloor = &fl, &of
		}
		if err := enc.Encode(out); err != nil {
			return err
		}
	}
	return nil
}
