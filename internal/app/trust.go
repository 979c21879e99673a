package app

import (
	"net/http"
	"time"

	"patchbay/internal/config"
	"patchbay/internal/fakes/fakekit"
	"patchbay/internal/netguard"
)

// outboundClient is the base HTTP client of every provider call: timeouts,
// and the private-network guard unless PATCHBAY_ALLOW_PRIVATE_NETWORKS is set
// (demo and tests set it: their fakes listen on loopback).
func outboundClient(cfg *config.Config) *http.Client {
	return netguard.Client(cfg.AllowPrivateNetworks, 30*time.Second)
}

// registerCallback registers Patchbay's exact OAuth callback with every fake
// that has an OAuth server, so that the fakes, like real providers, refuse
// any other redirect URI.
func registerCallback(fakes map[string]Fake, callback string) {
	for _, f := range fakes {
		if k, ok := f.Handler.(interface{ Kit() *fakekit.Kit }); ok {
			k.Kit().AddRedirectURI(callback)
		}
	}
}
