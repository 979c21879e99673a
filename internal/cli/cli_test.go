package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"patchbay/internal/app"
	"patchbay/internal/app/apptest"
	"patchbay/internal/cli"
)

func TestCommands(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	ctx := context.Background()
	run := func(stdin string, cmd string, args ...string) (string, error) {
		var out bytes.Buffer
		c := &cli.Client{URL: e.URL, Token: apptest.Token, HTTP: http.DefaultClient, Out: &out, In: strings.NewReader(stdin)}
		err := c.Run(ctx, cmd, args)
		return out.String(), err
	}

	out, err := run("", "connect", "hubspot")
	if err != nil || !strings.Contains(out, "open this URL") || !strings.Contains(out, "/_fakes/hubspot/oauth/authorize") {
		t.Fatalf("connect hubspot: %v\n%s", err, out)
	}
	out, err = run(app.DemoDataProviderKey+"\n", "connect", "dataprovider", "--config", "endpoint_url="+e.URL+"/_fakes/dataprovider", "--json")
	if err != nil {
		t.Fatalf("connect dataprovider: %v", err)
	}
	var created struct {
		Connection struct{ ID, Status string } `json:"connection"`
	}
	if err := json.Unmarshal([]byte(out), &created); err != nil || created.Connection.Status != "connected" {
		t.Fatalf("connect --json: %v %s", err, out)
	}
	out, err = run("", "integrations")
	if err != nil || !strings.Contains(out, "PROVIDER") || !strings.Contains(out, created.Connection.ID) || !strings.Contains(out, "green") {
		t.Fatalf("integrations: %v\n%s", err, out)
	}
	if out, err = run("", "test", created.Connection.ID); err != nil || !strings.Contains(out, "connected") {
		t.Fatalf("test: %v\n%s", err, out)
	}
	if out, err = run("", "disconnect", created.Connection.ID); err != nil || !strings.Contains(out, "disconnected") {
		t.Fatalf("disconnect: %v\n%s", err, out)
	}
	_, err = run("wrong\n", "connect", "dataprovider", "--config", "endpoint_url="+e.URL+"/_fakes/dataprovider")
	var ae *cli.APIError
	if !errors.As(err, &ae) || ae.Status != 422 {
		t.Fatalf("wrong key: %v", err)
	}
	if _, err := run("", "connect"); err == nil || !strings.Contains(err.Error(), "usage") {
		t.Fatalf("missing argument: %v", err)
	}
}
