// Package sdktest drives each fake with its provider's official client
// library, so the fakes cannot drift from what real clients send. The
// providers have no official Go clients, so the Node SDKs of
// testdata/package.json run the scripts of testdata; the tests skip when
// node or the installed modules are missing.
package sdktest

import (
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"patchbay/internal/fakes/airtable"
	"patchbay/internal/fakes/hubspot"
	"patchbay/internal/fakes/shopify"
)

// runNode runs testdata/<script> with env; its failure fails the test.
func runNode(t *testing.T, script string, env map[string]string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed; install Node.js 20 and run `npm ci` in internal/fakes/sdktest/testdata (make test does both)")
	}
	if _, err := os.Stat(filepath.Join("testdata", "node_modules")); err != nil {
		t.Skip("the SDKs are not installed; run `npm ci` in internal/fakes/sdktest/testdata (make test does)")
	}
	cmd := exec.CommandContext(t.Context(), node, script)
	cmd.Dir = "testdata"
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	t.Logf("%s", out)
}

func TestHubSpotClient(t *testing.T) {
	t.Parallel()
	f := hubspot.New(hubspot.Options{})
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	seeded, err := f.SeedRecords("sdk", "contacts", []map[string]any{{"email": "first@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	runNode(t, "hubspot.mjs", map[string]string{"FAKE_URL": srv.URL, "TOKEN": f.IssueToken("sdk").AccessToken, "SEEDED": fmt.Sprint(len(seeded))})
}

func TestShopifyClient(t *testing.T) {
	t.Parallel()
	const shop = "sdk-store.myshopify.com"
	f := shopify.New(shopify.Options{DefaultAccount: shop})
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	f.SeedRecords(shop, "customers", []map[string]any{
		{"email": "bob@example.com.au", "firstName": "Bob"},
		{"email": "bob@example.com", "firstName": "Robert", "phone": "+16135550100"},
	})
	runNode(t, "shopify.mjs", map[string]string{"FAKE_URL": srv.URL, "TOKEN": f.IssueToken(shop), "SHOP": shop,
		"API_VERSION": shopify.APIVersion, "OLDEST": shopify.SupportedVersions()[0]})
}

func TestAirtableClient(t *testing.T) {
	t.Parallel()
	f := airtable.New(airtable.Options{BaseRateLimit: 1000}) // the script is faster than 5 a second
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	runNode(t, "airtable.mjs", map[string]string{"FAKE_URL": srv.URL, "TOKEN": f.IssueToken("sdk").AccessToken, "BASE": airtable.BaseID("sdk", 1)})
}
