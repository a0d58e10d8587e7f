package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// ErrForbiddenAddress is matched by errors.Is when a delivery was refused
// because its host is, or resolves to, an address deliveries may not reach.
var ErrForbiddenAddress = errors.New("webhook destination address is not allowed")

// forbiddenPrefixes are networks no webhook may reach unless private
// addresses are allowed, besides those netip classifies (loopback,
// private, link-local, multicast, unspecified): shared address space
// (carrier-grade NAT), the benchmarking and IETF protocol ranges, and
// IPv6's discard and translated prefixes that reach IPv4 behind them.
var forbiddenPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("100::/64"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("2002::/16"),
}

// allowedAddress reports whether a delivery may connect to ip.
func allowedAddress(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return false
	}
	for _, p := range forbiddenPrefixes {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// guardDial refuses a connection to an address deliveries may not reach. It
// runs as net.Dialer.Control, after the name was resolved and just before
// the socket connects, on the very address it connects to: a name that
// resolves to a public address when checked and to 127.0.0.1 when dialled
// (DNS rebinding) is caught all the same.
func guardDial(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %q is not an IP address and port", ErrForbiddenAddress, address)
	}
	if !allowedAddress(ap.Addr()) {
		return fmt.Errorf("%w: %s is a private, loopback, link-local or reserved address", ErrForbiddenAddress, ap.Addr())
	}
	return nil
}

// newClient returns the HTTP client deliveries are sent with: no proxy
// (the guard must see the destination itself), no redirect followed (a
// 3xx is the receiver's answer, and following it could lead anywhere), a
// bound on each request, and the guard unless private addresses are
// allowed.
func newClient(timeout time.Duration, allowPrivate bool) *http.Client {
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = guardDial
	}
	t := &http.Transport{
		Proxy:                 nil,
		DialContext:           func(ctx context.Context, n, a string) (net.Conn, error) { return d.DialContext(ctx, n, a) },
		ForceAttemptHTTP2:     true,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
	}
	return &http.Client{Transport: t, Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}
