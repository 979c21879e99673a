// Package netguard keeps provider calls away from private networks. Users give
// Patchbay URLs (a data provider's endpoint, webhook destinations); without a
// guard such a URL could make Patchbay call its own admin ports, the cloud
// metadata service or anything else on the inside. The check runs at dial
// time on the address actually dialled, after DNS resolution, so a name that
// resolves (or re-resolves) to an inside address is refused too.
package netguard

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// BlockedError is returned when a dial targets a refused address.
type BlockedError struct {
	Addr   string // the address dialled, ip:port
	Reason string // loopback, private, link-local, ...
}

func (e *BlockedError) Error() string {
	return fmt.Sprintf("refused to connect to %s: it is a %s address (set PATCHBAY_ALLOW_PRIVATE_NETWORKS=true to allow calls to inside networks)", e.Addr, e.Reason)
}

// AsBlocked returns the BlockedError in err's chain, or nil.
func AsBlocked(err error) *BlockedError {
	var be *BlockedError
	if errors.As(err, &be) {
		return be
	}
	return nil
}

var extraRanges = []struct {
	prefix netip.Prefix
	reason string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "this-network"},
	{netip.MustParsePrefix("100.64.0.0/10"), "carrier-grade NAT"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "local NAT64"},
}

// Refused says why ip may not be dialled, or "" when it may.
func Refused(ip netip.Addr) string {
	ip = ip.Unmap()
	switch {
	case !ip.IsValid():
		return "invalid"
	case ip.IsLoopback():
		return "loopback"
	case ip.IsPrivate():
		return "private"
	case ip.IsLinkLocalUnicast():
		return "link-local (cloud metadata)"
	case ip.IsUnspecified():
		return "unspecified"
	case ip.IsMulticast(), ip.IsLinkLocalMulticast(), ip.IsInterfaceLocalMulticast():
		return "multicast"
	}
	if ip.Is4() && ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return "broadcast"
	}
	for _, r := range extraRanges {
		if r.prefix.Contains(ip) {
			return r.reason
		}
	}
	if ip.Is6() {
		b := ip.As16()
		switch {
		case ipv4Compatible.Contains(ip):
			// Deprecated ::a.b.c.d, which some stacks still route as IPv4.
			return "IPv4-compatible IPv6"
		case nat64.Contains(ip):
			// The NAT64 gateway dials the IPv4 address in the last 32 bits.
			if why := Refused(netip.AddrFrom4([4]byte(b[12:16]))); why != "" {
				return "NAT64 of " + why
			}
		case sixToFour.Contains(ip):
			// 6to4 relays reach the IPv4 address in bits 16-48.
			if why := Refused(netip.AddrFrom4([4]byte(b[2:6]))); why != "" {
				return "6to4 of " + why
			}
		}
	}
	return ""
}

// IPv6 ranges that carry an IPv4 address (RFC 4291, RFC 6052, RFC 3056).
var (
	ipv4Compatible = netip.MustParsePrefix("::/96")
	nat64          = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour      = netip.MustParsePrefix("2002::/16")
)

// Control is a net.Dialer Control function that refuses inside addresses.
func Control(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("netguard: %w", err)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return &BlockedError{Addr: address, Reason: "unparsable"}
	}
	if reason := Refused(ip); reason != "" {
		return &BlockedError{Addr: address, Reason: reason}
	}
	return nil
}

// Transport returns an HTTP transport with timeouts on every phase that, unless
// allowPrivate is set, refuses to dial inside addresses. It never uses a proxy
// from the environment when guarding, since the guard could not see through it.
func Transport(allowPrivate bool) *http.Transport {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	t := &http.Transport{
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   10,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	if allowPrivate {
		t.Proxy = http.ProxyFromEnvironment
	} else {
		d.Control = Control
	}
	return t
}

// Client returns an HTTP client over Transport with an overall timeout.
func Client(allowPrivate bool, timeout time.Duration) *http.Client {
	return &http.Client{Transport: Transport(allowPrivate), Timeout: timeout}
}
