// Package sdktest drives each fake with its provider's official client
// library, so the fakes cannot drift from what real clients send. The
// providers have no official Go clients, so the Node SDKs of
// testdata/package.json run the scripts of testdata; the tests skip when
// node or the installed modules are missing.
package sdktest

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"patchbay/internal/fakes/airtable"
	"patchbay/internal/fakes/hubspot"
	"patchbay/internal/fakes/mailchimp"
	"patchbay/internal/fakes/salesforce"
	"patchbay/internal/fakes/shopify"
)

// missingSDKs lists the dependencies of testdata/package.json that
// node_modules lacks (none installed, or installed before one was added).
func missingSDKs(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	if err := json.Unmarshal(b, &pkg); err != nil {
		t.Fatal(err)
	}
	var missing []string
	for name := range pkg.Dependencies {
		if _, err := os.Stat(filepath.Join("testdata", "node_modules", name, "package.json")); err != nil {
			missing = append(missing, name)
		}
	}
	slices.Sort(missing)
	return missing
}

// runNode runs testdata/<script> with env; its failure fails the test.
func runNode(t *testing.T, script string, env map[string]string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed; install Node.js 20 and run `npm ci` in internal/fakes/sdktest/testdata (make test does both)")
	}
	if missing := missingSDKs(t); len(missing) > 0 {
		t.Skipf("the SDKs %v are not installed; run `npm ci` in internal/fakes/sdktest/testdata (make test does)", missing)
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

func TestMailchimpClient(t *testing.T) {
	t.Parallel()
	f := mailchimp.New(mailchimp.Options{DefaultAccount: "sdk"})
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	list := f.Audiences("sdk")[0].ID
	f.SeedMembers("sdk", list, []map[string]any{{"email_address": "seeded@example.com", "status": "subscribed", "FNAME": "Seed"}})
	runNode(t, "mailchimp.mjs", map[string]string{"FAKE_URL": srv.URL, "API_KEY": f.NewAPIKey("sdk"), "SERVER": mailchimp.DataCenter("sdk"), "LIST": list})
}

func TestSalesforceClient(t *testing.T) {
	t.Parallel()
	f := salesforce.New(salesforce.Options{DefaultAccount: "sdk"})
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	seeded, err := f.SeedRecords("sdk", "Contact", []map[string]any{{"LastName": "Seed", "Email": "seed@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	runNode(t, "salesforce.mjs", map[string]string{"FAKE_URL": srv.URL, "TOKEN": f.IssueToken("sdk").AccessToken,
		"VERSION": strings.TrimPrefix(salesforce.APIVersion, "v"), "SEEDED": fmt.Sprint(len(seeded))})
}
