package app

import (
	"context"
	"net/http"
	"strings"
	"time"

	"patchbay/internal/web"
)

// LoginLinkTTL is how long the login link printed by patchbay demo works (once).
const LoginLinkTTL = 24 * time.Hour

// dashboard builds the web dashboard over the API handler.
func (a *App) dashboard(fakes map[string]Fake) *web.Handler {
	handlers := map[string]http.Handler{}
	for id, f := range fakes {
		handlers[id] = f.Handler
	}
	return web.New(web.Config{Store: a.Store, API: a.API, Logger: a.Log, Fakes: handlers,
		SecureCookies: strings.HasPrefix(a.Config.PublicURL, "https://")})
}

// LoginLink returns the path of a one-time login link for the bootstrap
// token's workspace (patchbay demo prints it, so a visitor lands logged in).
func (a *App) LoginLink(ctx context.Context) (string, error) {
	return web.NewLoginLink(ctx, a.Store, a.Token, LoginLinkTTL)
}
