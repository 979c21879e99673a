package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"patchbay/internal/bench"
	"patchbay/internal/loadtest"
)

const benchUsage = "usage: patchbay bench [all] [--quick] [--million] [--providers hubspot,…] [--parts providers,engine,…] [--json]\n" +
	"       patchbay bench api [--rate 500] [--duration 20s] [--seed N] [--syncs 20 [--records 500]]"

// benchCmd is `patchbay bench`: the suite against in-process fakes (no
// argument or "all"), or `bench api` against a running Patchbay.
func benchCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "api" {
		return benchAPI(ctx, args, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "all" {
		args = args[1:]
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, benchUsage); fs.PrintDefaults() }
	quick := fs.Bool("quick", false, "a few seconds per part (smoke test); figures are less steady")
	million := fs.Bool("million", false, "stream 1,000,000 records in and out for the memory figures (default 100,000)")
	provs := fs.String("providers", "", "comma-separated providers for the per-provider runs (default all five)")
	parts := fs.String("parts", "", "comma-separated parts to run: "+strings.Join(bench.Parts, ", ")+" (default all)")
	asJSON := fs.Bool("json", false, "one JSON object per line per figure instead of the table")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected %q\n%s", fs.Arg(0), benchUsage)
	}
	o := bench.Options{Quick: *quick, Million: *million, Providers: splitList(*provs), Parts: splitList(*parts), Progress: stderr}
	rep, err := bench.Run(ctx, o)
	if rep != nil {
		write := rep.Write
		if *asJSON {
			write = rep.WriteJSON
		}
		if werr := write(stdout); werr != nil && err == nil {
			err = werr
		}
	}
	return err
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// benchAPI is `patchbay bench api`: a second process that holds a request
// rate of dashboard reads against a running Patchbay and reports latency.
func benchAPI(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench api", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", envOr("PATCHBAY_URL", "http://127.0.0.1:8080"), "Patchbay base URL (env PATCHBAY_URL)")
	rate := fs.Int("rate", 500, "requests per second")
	duration := fs.Duration("duration", 20*time.Second, "how long to send")
	seed := fs.Int("seed", 0, "first create this many data provider connections (against `patchbay demo`)")
	syncs := fs.Int("syncs", 0, "keep this many full inbound syncs of the demo's HubSpot fake running during the load (against `patchbay demo`)")
	records := fs.Int("records", 500, "contacts per HubSpot portal for --syncs (five syncs share a portal)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	token := os.Getenv("PATCHBAY_TOKEN")
	if token == "" {
		return errors.New("set PATCHBAY_TOKEN to an API token (patchbay demo prints one)")
	}
	if *seed > 0 {
		if err := loadtest.SeedDemo(ctx, *url, token, *seed); err != nil {
			return err
		}
	}
	ids, err := loadtest.SetupSyncs(ctx, *url, token, loadtest.SyncLoad{Syncs: *syncs, Records: *records})
	if err != nil {
		return err
	}
	bg, stopSyncs := context.WithCancel(ctx)
	defer stopSyncs()
	syncStats := make(chan loadtest.SyncStats, 1)
	go func() { syncStats <- loadtest.RunSyncs(bg, *url, token, ids) }()
	res, err := loadtest.Run(ctx, loadtest.Config{URL: *url, Token: token, Rate: *rate, Duration: *duration})
	stopSyncs()
	st := <-syncStats
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, res)
	if len(ids) > 0 {
		fmt.Fprintf(stdout, "meanwhile %d syncs: %s\n", len(ids), st)
		if st.Succeeded == 0 {
			return fmt.Errorf("no sync run finished during the load: %s", st)
		}
	}
	if res.Failed > 0 || res.Dropped > 0 {
		return fmt.Errorf("%d requests failed and %d were dropped", res.Failed, res.Dropped)
	}
	return nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
