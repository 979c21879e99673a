// Command patchbay is the Patchbay server, worker and command-line client.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"patchbay/internal/app"
	"patchbay/internal/cli"
	"patchbay/internal/config"
)

const usage = `patchbay: a self-hosted integrations hub.

Usage:
  patchbay demo    [--addr 127.0.0.1:8080] [--data DIR]   run with SQLite and local provider fakes
  patchbay serve   [--addr] [--data DIR | --database postgres://…]
  patchbay worker  --database postgres://…                background work only; run any number beside serve
  patchbay migrate [--data DIR | --database postgres://…]  apply schema migrations (Patchbay's and, on PostgreSQL, River's)
  patchbay rotate-key [--data DIR | --database …]        re-encrypt every credential with PATCHBAY_MASTER_KEY
                                                          (servers keep running with the old keys in PATCHBAY_PREVIOUS_MASTER_KEYS)
  patchbay bench [all] [--quick] [--million]             benchmark suite against in-process fakes (docs/benchmarks.md)
  patchbay bench api [--rate 500] [--duration 20s] [--seed N]  load-test the dashboard reads of a running Patchbay
  patchbay integrations [--json]                          list integrations and connections
  patchbay connect <provider> [--config k=v] [--scope s]  start a connection (API keys are read from stdin)
  patchbay reconnect|test|disconnect <connection id>

The client commands use PATCHBAY_URL (default http://127.0.0.1:8080) and PATCHBAY_TOKEN.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "patchbay:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stdout, usage)
		return nil
	}
	if (args[0] == "--json" || args[0] == "-json") && len(args) > 1 {
		args = append([]string{args[1], "--json"}, args[2:]...) // --json may come before the command too
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "demo", "serve", "migrate", "rotate-key", "worker":
	case "bench":
		return benchCmd(ctx, rest, stdout, stderr)
	case "integrations", "connect", "reconnect", "test", "disconnect":
		return cli.FromEnv(stdout, os.Stdin).Run(ctx, cmd, rest)
	default:
		return fmt.Errorf("unknown command %q; run patchbay help", cmd)
	}
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg, err := config.Load(fs, rest, os.LookupEnv, app.OAuthProviders())
	if err != nil {
		return err
	}
	if cmd == "demo" {
		cfg.AllowPrivateNetworks = true // the demo's provider fakes listen on this machine
	}
	log := app.NewLogger(stderr, cfg.LogLevel)
	if cmd == "rotate-key" {
		rep, err := app.RotateKey(ctx, cfg)
		fmt.Fprintln(stdout, rep)
		return err
	}
	if cmd == "migrate" {
		if err := app.Migrate(ctx, cfg.DSN()); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "migrations applied")
		return nil
	}
	if cmd == "worker" {
		return work(ctx, cfg, log)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	base := cfg.PublicURL
	if base == "" {
		base = "http://" + ln.Addr().String()
	}
	opts := app.Options{BaseURL: base, Logger: log}
	if cmd == "demo" {
		opts.Fakes = app.DemoFakes()
	}
	a, err := app.New(ctx, cfg, opts)
	if err != nil {
		ln.Close()
		return err
	}
	defer a.Close()
	if cmd == "demo" {
		if err := app.SeedDemo(ctx, opts.Fakes); err != nil {
			return err
		}
		app.WireDemoWebhooks(opts.Fakes, base)
		link, err := a.LoginLink(ctx)
		if err != nil {
			return err
		}
		fakes := slices.Sorted(maps.Keys(opts.Fakes))
		fmt.Fprintf(stdout, "Patchbay demo is running.\n  dashboard: %s%s\n             (this link signs you in once, within %s; later use %s/login and the API token)\n  API token: %s\n  data:      %s\n  fakes:     %s/_fakes/<provider>/ for %s\n  API keys for the demo: data provider %s (endpoint %s/_fakes/dataprovider), Mailchimp %s\nPress Ctrl+C to stop.\n",
			base, link, app.LoginLinkTTL, base, a.Token, cfg.DataDir, base, strings.Join(fakes, ", "), app.DemoDataProviderKey, base, app.DemoMailchimpKey)
	} else {
		fmt.Fprintf(stdout, "Patchbay is serving on %s\n", base)
	}
	log.Info("started", "mode", cmd, "url", base, "config", cfg.String())
	return a.Serve(ctx, ln)
}

// work runs `patchbay worker`: background jobs only, on the PostgreSQL that
// serve and the other workers share, until SIGTERM or SIGINT.
func work(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	if cfg.Database == "" {
		return errors.New("worker needs --database postgres://… (PATCHBAY_DATABASE_URL), the database serve uses; with SQLite, serve runs the background work itself")
	}
	if cfg.MasterKey == "" {
		if _, err := os.Stat(filepath.Join(cfg.DataDir, "master.key")); err != nil {
			return errors.New("worker needs the credential key serve uses: set PATCHBAY_MASTER_KEY (or PATCHBAY_MASTER_KEY_FILE) to the same value")
		}
	}
	opts := app.Options{Logger: log, BaseURL: cfg.PublicURL}
	var a *app.App
	if err := testHooks(cfg, &opts, func() *app.App { return a }); err != nil {
		return err
	}
	a, err := app.New(ctx, cfg, opts)
	if err != nil {
		return err
	}
	defer a.Close()
	log.Info("started", "mode", "worker", "config", cfg.String())
	return a.Work(ctx)
}
