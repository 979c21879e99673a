package shopify

import (
	"regexp"
	"slices"
)

// Shopify's quarterly API versions as of the fake's writing (December 2026).
// A stable version is supported for twelve months after its release; the
// next quarter's is the release candidate. Move the list on each quarter,
// together with the version in the catalog (internal/catalog/providers.json).
const (
	// APIVersion is the newest stable version (the fake's webhooks carry it).
	APIVersion = "2026-10"
	// ReleaseCandidate is the next version, served but not yet stable.
	ReleaseCandidate = "2027-01"
)

// SupportedVersions are the stable versions Shopify serves, oldest first.
func SupportedVersions() []string { return []string{"2026-01", "2026-04", "2026-07", APIVersion} }

var versionPattern = regexp.MustCompile(`^20\d\d-(01|04|07|10)$`)

// versioningDoc is what X-Shopify-API-Deprecated-Reason names when a request
// asks for a version that is no longer supported.
const versioningDoc = "https://shopify.dev/api/usage/versioning#deprecation-practices"

// serveVersion is the version that answers a request for v: a supported
// version, the release candidate or unstable serve themselves; a retired
// quarterly version falls forward to the oldest supported one, as Shopify
// does; anything else is not found.
func serveVersion(v string) (served string, retired, ok bool) {
	switch {
	case slices.Contains(SupportedVersions(), v), v == ReleaseCandidate, v == "unstable":
		return v, false, true
	case versionPattern.MatchString(v) && v < SupportedVersions()[0]:
		return SupportedVersions()[0], true, true
	}
	return "", false, false
}
