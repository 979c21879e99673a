package config

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func load(t *testing.T, args []string, env map[string]string) (*Config, error) {
	t.Helper()
	return Load(flag.NewFlagSet("t", flag.ContinueOnError), args, func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}, []string{"hubspot"})
}

func TestLoad(t *testing.T) {
	t.Parallel()
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := load(t, []string{"--addr", "127.0.0.1:9999"}, map[string]string{
		"PATCHBAY_DATA": "/tmp/x", "PATCHBAY_HUBSPOT_CLIENT_ID": "id", "PATCHBAY_HUBSPOT_CLIENT_SECRET_FILE": secretFile,
		"PATCHBAY_MASTER_KEY": "k", "PATCHBAY_PROBE_INTERVAL": "30s"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9999" || c.DataDir != "/tmp/x" || c.Clients["hubspot"].Secret != "s3cret" || c.ProbeInterval != 30*time.Second {
		t.Fatalf("config %+v", c)
	}
	if c.DSN() != "/tmp/x/patchbay.db" {
		t.Fatalf("dsn %s", c.DSN())
	}
	if s := c.String(); strings.Contains(s, "s3cret") || strings.Contains(s, "=k ") {
		t.Fatalf("secret printed: %s", s)
	}
}

func TestLoadRefusesBadSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"addr", []string{"--addr", "nope"}, nil, "addr"},
		{"database", nil, map[string]string{"PATCHBAY_DATABASE_URL": "mysql://x"}, "postgres://"},
		{"public url", []string{"--public-url", "ftp://x"}, nil, "public-url"},
		{"log level", []string{"--log-level", "loud"}, nil, "log-level"},
		{"probe interval", []string{"--probe-interval", "1ms"}, nil, "probe-interval"},
		{"missing secret file", nil, map[string]string{"PATCHBAY_MASTER_KEY_FILE": "/nonexistent"}, "PATCHBAY_MASTER_KEY_FILE"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := load(t, tc.args, tc.env)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want mention of %q", err, tc.want)
			}
		})
	}
}
