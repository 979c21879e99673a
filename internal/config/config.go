// Package config loads Patchbay's settings from flags and PATCHBAY_*
// environment variables into a value that is passed in, never a global.
package config

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Config is the whole configuration of one process.
type Config struct {
	Addr           string        // listen address
	DataDir        string        // SQLite file, master key
	Database       string        // postgres:// URL; empty means SQLite in DataDir
	PublicURL      string        // how browsers reach Patchbay (OAuth redirect); default http://<addr>
	MasterKey      string        // base64; secret
	BootstrapToken string        // secret
	LogLevel       string        // debug, info, warn, error
	ProbeInterval  time.Duration // health probe interval
	RunRetention   time.Duration // sync runs older than this are deleted (the newest of each sync stay)
	Clients        map[string]Client
	Health         Health
	SMTP           SMTP
	// PreviousMasterKeys are older keys (base64, comma-separated; secret) that
	// still open credentials during a key rotation.
	PreviousMasterKeys string
	// AllowPrivateNetworks lets provider calls reach loopback and private
	// addresses (demo and tests, whose fakes are local); off by default.
	AllowPrivateNetworks bool
	Jobs                 Jobs
}

// Health tunes the health monitor and notifications.
type Health struct {
	ProbeConcurrency int  // probes, token refreshes and sweeps run at once (the job engine's upkeep queue)
	SyncFailures     int  // N of "a sync failed N times in a row"
	AllowPrivate     bool // webhooks may call loopback and private networks
}

// SMTP is the mail server notifications go through; Password is secret.
type SMTP struct {
	Host     string
	Port     int
	Username string
	Password string
	From     string
	StartTLS string // auto, always, never
}

// Jobs tunes the background work of this process.
type Jobs struct {
	Concurrency     int           // sync runs at once in this process; 0: enqueue only (PostgreSQL)
	Timeout         time.Duration // a job running longer is cancelled (and handed to another worker)
	SweepInterval   time.Duration // how often due work (scheduled syncs, refreshes, probes) is looked for
	ShutdownTimeout time.Duration // on SIGTERM, running jobs get this long to finish before they are handed back
}

// Client is an OAuth client registration; Secret is secret.
type Client struct {
	ID     string
	Secret string
}

// option is one setting: its flag, environment variable and whether it is secret.
type option struct {
	name, env, usage string
	secret           bool
	target           *string
}

// Load parses args (without the program and subcommand names) and the
// environment. lookup is os.LookupEnv in production.
func Load(fs *flag.FlagSet, args []string, lookup func(string) (string, bool), providers []string) (*Config, error) {
	c := &Config{Clients: map[string]Client{}}
	var probe, retention, concurrency, syncFailures, allowPrivate, smtpPort, jobConcurrency, jobTimeout, sweep, shutdown string
	opts := []option{
		{"addr", "PATCHBAY_ADDR", "listen address", false, &c.Addr},
		{"data", "PATCHBAY_DATA", "data folder (SQLite file, generated master key)", false, &c.DataDir},
		{"database", "PATCHBAY_DATABASE_URL", "postgres:// URL for scale-out; empty for SQLite in the data folder", true, &c.Database},
		{"public-url", "PATCHBAY_PUBLIC_URL", "URL browsers use to reach Patchbay (OAuth redirect base)", false, &c.PublicURL},
		{"log-level", "PATCHBAY_LOG_LEVEL", "debug, info, warn or error", false, &c.LogLevel},
		{"probe-interval", "PATCHBAY_PROBE_INTERVAL", "how often each connection is probed", false, &probe},
		{"probe-concurrency", "PATCHBAY_PROBE_CONCURRENCY", "probes, token refreshes and sweeps this process runs at once, beside its sync runs", false, &concurrency},
		{"sync-failures", "PATCHBAY_NOTIFY_SYNC_FAILURES", "notify when a sync failed this many times in a row", false, &syncFailures},
		{"notify-allow-private", "PATCHBAY_NOTIFY_ALLOW_PRIVATE", "let webhooks call loopback and private networks (true/false)", false, &allowPrivate},
		{"smtp-host", "PATCHBAY_SMTP_HOST", "mail server for notifications; empty turns e-mail off", false, &c.SMTP.Host},
		{"smtp-port", "PATCHBAY_SMTP_PORT", "mail server port", false, &smtpPort},
		{"smtp-username", "PATCHBAY_SMTP_USERNAME", "mail server user (empty: no AUTH)", false, &c.SMTP.Username},
		{"smtp-from", "PATCHBAY_SMTP_FROM", "sender address of notifications", false, &c.SMTP.From},
		{"smtp-starttls", "PATCHBAY_SMTP_STARTTLS", "auto, always or never", false, &c.SMTP.StartTLS},
		{"run-retention", "PATCHBAY_RUN_RETENTION", "how long sync run history is kept", false, &retention},

		{"job-concurrency", "PATCHBAY_JOB_CONCURRENCY", "sync runs this process runs at once (0: enqueue only)", false, &jobConcurrency},
		{"job-timeout", "PATCHBAY_JOB_TIMEOUT", "a background job running longer is cancelled and retried", false, &jobTimeout},
		{"sweep-interval", "PATCHBAY_SWEEP_INTERVAL", "how often due work (scheduled syncs, token refreshes, probes) is looked for", false, &sweep},
		{"shutdown-timeout", "PATCHBAY_SHUTDOWN_TIMEOUT", "on SIGTERM, how long running jobs get to finish before they are handed back", false, &shutdown},
	}
	defaults := map[string]string{"addr": "127.0.0.1:8080", "data": "./patchbay-data", "log-level": "info", "probe-interval": "5m", "run-retention": "720h",
		"probe-concurrency": "32", "sync-failures": "3", "notify-allow-private": "false", "smtp-port": "587", "smtp-starttls": "auto",
		"job-concurrency": "10", "job-timeout": "1h", "sweep-interval": "15s", "shutdown-timeout": "30s"}
	for _, o := range opts {
		def := defaults[o.name]
		if v, ok := lookup(o.env); ok {
			def = v
		}
		fs.StringVar(o.target, o.name, def, o.usage+" (env "+o.env+")")
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	secrets := []struct {
		env    string
		target *string
	}{{"PATCHBAY_MASTER_KEY", &c.MasterKey}, {"PATCHBAY_BOOTSTRAP_TOKEN", &c.BootstrapToken}, {"PATCHBAY_SMTP_PASSWORD", &c.SMTP.Password},
		{"PATCHBAY_PREVIOUS_MASTER_KEYS", &c.PreviousMasterKeys}}
	for _, s := range secrets {
		v, err := fromEnvOrFile(lookup, s.env)
		if err != nil {
			return nil, err
		}
		*s.target = v
	}
	for _, p := range providers {
		up := strings.ToUpper(p)
		id, err := fromEnvOrFile(lookup, "PATCHBAY_"+up+"_CLIENT_ID")
		if err != nil {
			return nil, err
		}
		secret, err := fromEnvOrFile(lookup, "PATCHBAY_"+up+"_CLIENT_SECRET")
		if err != nil {
			return nil, err
		}
		if id != "" {
			c.Clients[p] = Client{ID: id, Secret: secret}
		}
	}
	if v, ok := lookup("PATCHBAY_ALLOW_PRIVATE_NETWORKS"); ok && strings.TrimSpace(v) != "" {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("PATCHBAY_ALLOW_PRIVATE_NETWORKS %q: want true or false", v)
		}
		c.AllowPrivateNetworks = b
	}
	d, err := time.ParseDuration(probe)
	if err != nil || d < time.Second {
		return nil, fmt.Errorf("probe-interval %q: want a duration of at least 1s, like 5m", probe)
	}
	c.ProbeInterval = d
	n, err := strconv.Atoi(jobConcurrency)
	if err != nil || n < 0 || n > 1000 {
		return nil, fmt.Errorf("job-concurrency %q: want a whole number from 0 to 1000, like 10 (0: enqueue only, PostgreSQL only)", jobConcurrency)
	}
	c.Jobs.Concurrency = n
	for _, dur := range []struct {
		name, value string
		target      *time.Duration
	}{{"job-timeout", jobTimeout, &c.Jobs.Timeout}, {"sweep-interval", sweep, &c.Jobs.SweepInterval}, {"shutdown-timeout", shutdown, &c.Jobs.ShutdownTimeout}} {
		d, err := time.ParseDuration(dur.value)
		if err != nil || d < time.Second {
			return nil, fmt.Errorf("%s %q: want a duration of at least 1s, like 30s", dur.name, dur.value)
		}
		*dur.target = d
	}
	if c.RunRetention, err = time.ParseDuration(retention); err != nil || c.RunRetention < time.Hour {
		return nil, fmt.Errorf("run-retention %q: want a duration of at least 1h, like 720h", retention)
	}
	var errs []error
	for _, n := range []struct {
		name, v string
		min     int
		dst     *int
	}{{"probe-concurrency", concurrency, 1, &c.Health.ProbeConcurrency}, {"sync-failures", syncFailures, 1, &c.Health.SyncFailures},
		{"smtp-port", smtpPort, 1, &c.SMTP.Port}} {
		v, err := strconv.Atoi(strings.TrimSpace(n.v))
		if err != nil || v < n.min {
			errs = append(errs, fmt.Errorf("%s %q: want a whole number of at least %d", n.name, n.v, n.min))
			continue
		}
		*n.dst = v
	}
	if c.Health.AllowPrivate, err = strconv.ParseBool(allowPrivate); err != nil {
		errs = append(errs, fmt.Errorf("notify-allow-private %q: want true or false", allowPrivate))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, c.validate()
}

// fromEnvOrFile reads NAME, or the file named by NAME_FILE (for container secrets).
func fromEnvOrFile(lookup func(string) (string, bool), name string) (string, error) {
	if v, ok := lookup(name); ok {
		return strings.TrimSpace(v), nil
	}
	if path, ok := lookup(name + "_FILE"); ok {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("%s_FILE: %w", name, err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	return "", nil
}

func (c *Config) validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("addr %q: want host:port, like 127.0.0.1:8080", c.Addr))
	}
	if c.Database != "" && !strings.HasPrefix(c.Database, "postgres://") && !strings.HasPrefix(c.Database, "postgresql://") {
		errs = append(errs, errors.New("database: want a postgres:// URL (leave it empty for SQLite)"))
	}
	if c.Jobs.Concurrency == 0 && c.Database == "" {
		errs = append(errs, errors.New("job-concurrency 0 (enqueue only) needs --database postgres://… and workers; with SQLite this process must work its jobs"))
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("public-url %q: want an absolute http(s) URL", c.PublicURL))
		}
	}
	if c.SMTP.Host != "" && c.SMTP.From == "" {
		errs = append(errs, errors.New("smtp-from: set PATCHBAY_SMTP_FROM (e.g. patchbay@example.com) to send e-mail"))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log-level %q: want debug, info, warn or error", c.LogLevel))
	}
	return errors.Join(errs...)
}

// SQLitePath is the database file in the data folder.
func (c *Config) SQLitePath() string { return filepath.Join(c.DataDir, "patchbay.db") }

// DSN is what the store opens.
func (c *Config) DSN() string {
	if c.Database != "" {
		return c.Database
	}
	return c.SQLitePath()
}

// String prints the configuration with secrets redacted.
func (c *Config) String() string {
	red := func(s string) string {
		if s == "" {
			return ""
		}
		return "[redacted]"
	}
	var clients []string
	for p, cl := range c.Clients {
		clients = append(clients, p+"="+cl.ID+":"+red(cl.Secret))
	}
	return fmt.Sprintf("addr=%s data=%s database=%s public_url=%s master_key=%s previous_master_keys=%s bootstrap_token=%s allow_private_networks=%t clients=%v probe_interval=%s smtp=%s:%d user=%s password=%s from=%s starttls=%s",
		c.Addr, c.DataDir, red(c.Database), c.PublicURL, red(c.MasterKey), red(c.PreviousMasterKeys), red(c.BootstrapToken), c.AllowPrivateNetworks,
		clients, c.ProbeInterval, c.SMTP.Host, c.SMTP.Port, c.SMTP.Username, red(c.SMTP.Password), c.SMTP.From, c.SMTP.StartTLS)
}
