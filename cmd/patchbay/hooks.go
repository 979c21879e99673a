//go:build !patchbaytest

package main

import (
	"patchbay/internal/app"
	"patchbay/internal/config"
)

// testHooks does nothing in the real binary; the multi-process tests build
// with -tags patchbaytest, which plugs a recording sync function in
// (hooks_patchbaytest.go) until the sync engine is wired.
func testHooks(*config.Config, *app.Options, func() *app.App) error { return nil }
