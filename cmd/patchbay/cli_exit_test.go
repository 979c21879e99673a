package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"testing"

	"patchbay/internal/app/apptest"
	"patchbay/internal/cli"
)

// TestCLIJSONAnywhereAndRedTestFails runs the client commands as the
// README writes them: --json before or after the command, and `patchbay
// test` failing (exit status 1 in main) on a red connection.
func TestCLIJSONAnywhereAndRedTestFails(t *testing.T) {
	e := apptest.Start(t, apptest.Options{})
	t.Setenv("PATCHBAY_URL", e.URL)
	t.Setenv("PATCHBAY_TOKEN", apptest.Token)
	id := e.ConnectOAuth("hubspot", "acct-cli-red", nil, "crm.objects.contacts.read")
	ctx := context.Background()
	for _, args := range [][]string{{"--json", "integrations"}, {"integrations", "--json"}, {"--json", "test", id}, {"test", id, "--json"}} {
		var out bytes.Buffer
		if err := run(ctx, args, &out, io.Discard); err != nil {
			t.Fatalf("patchbay %v: %v", args, err)
		}
		if !json.Valid(out.Bytes()) {
			t.Fatalf("patchbay %v printed no JSON: %s", args, out.String())
		}
	}
	e.Control("hubspot", "revoke", map[string]string{"account": "acct-cli-red"})
	var out bytes.Buffer
	err := run(ctx, []string{"test", id}, &out, io.Discard)
	var red *cli.RedError
	if !errors.As(err, &red) || red.Reason != "authorization_revoked" {
		t.Fatalf("patchbay test on a revoked connection: %v\n%s", err, out.String())
	}
	if out.Len() == 0 {
		t.Fatal("patchbay test printed nothing before failing")
	}
}
