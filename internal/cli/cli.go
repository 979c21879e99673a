// Package cli is the command-line client of Patchbay's API: the same calls
// as the dashboard, human-readable tables by default, --json for scripts.
package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

// Client talks to a Patchbay server.
type Client struct {
	URL   string // e.g. http://127.0.0.1:8080
	Token string
	HTTP  *http.Client
	Out   io.Writer
	In    io.Reader
}

// FromEnv builds a client from PATCHBAY_URL and PATCHBAY_TOKEN.
func FromEnv(out io.Writer, in io.Reader) *Client {
	u := os.Getenv("PATCHBAY_URL")
	if u == "" {
		u = "http://127.0.0.1:8080"
	}
	return &Client{URL: strings.TrimSuffix(u, "/"), Token: os.Getenv("PATCHBAY_TOKEN"), HTTP: &http.Client{Timeout: 60 * time.Second}, Out: out, In: in}
}

// APIError is a problem document returned by the server.
type APIError struct {
	Status int
	Title  string `json:"title"`
	Detail string `json:"detail"`
	Errors []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("%s (HTTP %d): %s", e.Title, e.Status, e.Detail)
	for _, f := range e.Errors {
		s += "\n  " + f.Field + ": " + f.Message
	}
	return s
}

func (c *Client) call(ctx context.Context, method, path string, body, out any) error {
	if c.Token == "" {
		return errors.New("set PATCHBAY_TOKEN to an API token (patchbay demo prints one)")
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.URL+"/api/v1"+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("reach Patchbay at %s (set PATCHBAY_URL): %w", c.URL, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 400 {
		ae := &APIError{Status: resp.StatusCode}
		if json.Unmarshal(data, ae) != nil || ae.Detail == "" {
			ae.Detail = strings.TrimSpace(string(data))
		}
		return ae
	}
	return json.Unmarshal(data, out)
}

// Run executes one CLI command (args after the command name).
func (c *Client) Run(ctx context.Context, cmd string, args []string) error {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON for scripts")
	var cfg, scopes multi
	fs.Var(&cfg, "config", "provider setting key=value (repeatable), for connect")
	fs.Var(&scopes, "scope", "scope to request (repeatable), for connect and reconnect")
	allow := fs.Bool("allow-account-change", false, "accept a different provider account on reconnect")
	// Flags may come before or after the positional argument.
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if err := fs.Parse(positional); err != nil {
		return err
	}
	var out map[string]any
	switch cmd {
	case "integrations":
		if err := c.call(ctx, http.MethodGet, "/integrations", nil, &out); err != nil {
			return err
		}
		if *asJSON {
			return c.printJSON(out)
		}
		return c.printIntegrations(out)
	case "connect":
		if fs.NArg() != 1 {
			return errors.New("usage: patchbay connect <provider> [--config key=value] [--scope s] [--json]")
		}
		body := map[string]any{"provider": fs.Arg(0), "config": cfg.kv(), "scopes": scopes}
		if key, err := c.maybeReadKey(ctx, fs.Arg(0)); err != nil {
			return err
		} else if key != "" {
			body["api_key"] = key
		}
		if err := c.call(ctx, http.MethodPost, "/connections", body, &out); err != nil {
			return err
		}
	case "reconnect", "test", "disconnect":
		if fs.NArg() != 1 {
			return fmt.Errorf("usage: patchbay %s <connection id> [--json]", cmd)
		}
		body := map[string]any{}
		if cmd == "reconnect" {
			body["scopes"], body["allow_account_change"] = scopes, *allow
			var conn map[string]any
			if err := c.call(ctx, http.MethodGet, "/connections/"+fs.Arg(0), nil, &conn); err != nil {
				return err
			}
			if key, err := c.maybeReadKey(ctx, fmt.Sprint(conn["provider"])); err != nil {
				return err
			} else if key != "" {
				body["api_key"] = key
			}
		}
		if err := c.call(ctx, http.MethodPost, "/connections/"+fs.Arg(0)+"/"+cmd, body, &out); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown command %q", cmd)
	}
	var err error
	if *asJSON {
		err = c.printJSON(out)
	} else {
		err = c.printConnection(out)
	}
	if err == nil && cmd == "test" && out["health"] == "red" {
		// Scripts branch on the exit status: a red connection is a failed test.
		return &RedError{Status: fmt.Sprint(out["status"]), Reason: fmt.Sprint(out["reason"])}
	}
	return err
}

// RedError is the outcome of `patchbay test` on a connection that needs
// action: the command prints the connection and then fails with it.
type RedError struct {
	Status, Reason string
}

func (e *RedError) Error() string {
	return fmt.Sprintf("the connection needs action: %s (%s)", e.Status, e.Reason)
}

// maybeReadKey reads an API key from stdin when the provider uses API keys.
func (c *Client) maybeReadKey(ctx context.Context, provider string) (string, error) {
	var cat struct {
		Providers []struct {
			ID, Auth string
		} `json:"providers"`
	}
	if err := c.call(ctx, http.MethodGet, "/providers", nil, &cat); err != nil {
		return "", err
	}
	for _, p := range cat.Providers {
		if p.ID == provider && p.Auth == "api_key" {
			fmt.Fprintf(os.Stderr, "API key for %s (read from stdin): ", provider)
			line, err := bufio.NewReader(c.In).ReadString('\n')
			if err != nil && line == "" {
				return "", fmt.Errorf("read API key from stdin: %w", err)
			}
			return strings.TrimSpace(line), nil
		}
	}
	return "", nil
}

func (c *Client) printJSON(v any) error {
	enc := json.NewEncoder(c.Out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func str(m map[string]any, k string) string {
	if v, ok := m[k]; ok && v != nil {
		return fmt.Sprint(v)
	}
	return ""
}

func (c *Client) printIntegrations(out map[string]any) error {
	tw := tabwriter.NewWriter(c.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROVIDER\tTIER\tCONNECTION\tSTATUS\tHEALTH\tACCOUNT\tLAST ACTIVITY")
	items, _ := out["integrations"].([]any)
	for _, it := range items {
		m, _ := it.(map[string]any)
		conns, _ := m["connections"].([]any)
		if len(conns) == 0 {
			fmt.Fprintf(tw, "%s\t%s\t-\tnot_connected\tgrey\t-\t-\n", str(m, "id"), str(m, "tier"))
		}
		for _, cv := range conns {
			cm, _ := cv.(map[string]any)
			acct, _ := cm["account"].(map[string]any)
			status := str(cm, "status")
			if r := str(cm, "reason"); r != "" {
				status += " (" + r + ")"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", str(m, "id"), str(m, "tier"), str(cm, "id"), status, str(cm, "health"),
				str(acct, "name"), str(cm, "last_activity_at"))
		}
	}
	if n := str(out, "needs_attention"); n != "" && n != "0" {
		fmt.Fprintf(tw, "\n%s connection(s) need attention\n", n)
	}
	return tw.Flush()
}

func (c *Client) printConnection(out map[string]any) error {
	conn, ok := out["connection"].(map[string]any)
	if !ok {
		conn = out
	}
	acct, _ := conn["account"].(map[string]any)
	tw := tabwriter.NewWriter(c.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "id\t%s\nprovider\t%s\nstatus\t%s %s\nhealth\t%s\naccount\t%s %s\n", str(conn, "id"), str(conn, "provider"),
		str(conn, "status"), str(conn, "reason"), str(conn, "health"), str(acct, "id"), str(acct, "email"))
	if u := str(out, "authorize_url"); u != "" {
		fmt.Fprintf(tw, "\nopen this URL to approve access:\n%s\n", u)
	}
	if sec := str(out, "signing_secret"); sec != "" {
		fmt.Fprintf(tw, "\nsigning secret (shown only now; the receiver verifies X-Patchbay-Signature with it):\n%s\n", sec)
	}
	return tw.Flush()
}

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func (m multi) kv() map[string]string {
	out := map[string]string{}
	for _, s := range m {
		k, v, _ := strings.Cut(s, "=")
		out[k] = v
	}
	return out
}
