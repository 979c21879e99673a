package web_test

import (
	"io"
	"net/http"
	"testing"

	"patchbay/internal/app/apptest"
)

// BenchmarkIntegrationsPage measures a full GET / (session lookup, the API's
// integrations and detail views in process, template) with three connections.
func BenchmarkIntegrationsPage(b *testing.B) {
	env := apptest.Start(b, apptest.Options{})
	for _, acct := range []string{"", "acct-two", "acct-three"} {
		env.ConnectOAuth("hubspot", acct, nil)
	}
	br := newBrowser(b, env)
	link, err := env.App.LoginLink(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	req, _ := http.NewRequest("GET", env.URL+link, nil)
	if resp, err := br.http.Do(req); err != nil || resp.StatusCode != http.StatusSeeOther {
		b.Fatalf("login: %v", err)
	}
	b.ResetTimer()
	for b.Loop() {
		resp, err := br.http.Get(env.URL + "/")
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("GET /: %v", err)
		}
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
	}
}
