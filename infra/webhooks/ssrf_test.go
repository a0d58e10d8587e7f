package webhooks_test

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/rosterhq/roster/infra/webhooks"
)

// TestDeliveriesRefusePrivateAddresses: with private addresses not
// allowed, no request reaches a receiver on loopback, whether the URL
// names it by address or by a name that resolves to it, and the metadata
// and private ranges are refused before any connection.
func TestDeliveriesRefusePrivateAddresses(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *webhooks.Config) { c.AllowPrivate = false })
	rcv := newReceiver(t, nil)
	_, port, _ := net.SplitHostPort(rcv.addr)
	urls := []string{
		"http://127.0.0.1:" + port + "/hook",
		// A DNS name resolving to 127.0.0.1: the guard checks the address
		// dialled, after resolution, so DNS rebinding cannot slip past.
		"http://localhost:" + port + "/hook",
		"http://[::1]:" + port + "/hook",
		"http://[::ffff:127.0.0.1]:" + port + "/hook",
		"http://169.254.169.254/latest/meta-data/",
		"http://10.0.0.1/hook",
		"http://192.168.1.1/hook",
		"http://100.64.0.1/hook",
		"http://0.0.0.0:" + port + "/hook",
	}
	ids := map[string]string{}
	for _, u := range urls {
		id, _ := f.endpoint(u)
		ids[id] = u
	}
	if _, err := f.w.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if hits := rcv.got(); len(hits) != 0 {
		t.Errorf("the loopback receiver got %d requests", len(hits))
	}
	for id, u := range ids {
		log, err := f.w.Log(context.Background(), id, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		// Its first delivery (its own creation) was refused; the others
		// wait behind it.
		first := log[len(log)-1]
		if first.Status != "pending" || first.Attempts != 1 || !strings.Contains(first.LastError, "not allowed") {
			t.Errorf("%s: first delivery %+v, want one refused attempt", u, first)
		}
	}
}

func TestOnlyPublicAddressesAreAllowed(t *testing.T) {
	for _, tc := range []struct {
		ip      string
		allowed bool
	}{
		{"93.184.216.34", true}, {"8.8.8.8", true}, {"2606:4700:4700::1111", true},
		{"127.0.0.1", false}, {"127.8.9.10", false}, {"::1", false}, {"::ffff:127.0.0.1", false},
		{"10.1.2.3", false}, {"172.16.0.1", false}, {"192.168.0.1", false}, {"fc00::1", false},
		{"169.254.169.254", false}, {"fe80::1", false}, {"0.0.0.0", false}, {"::", false},
		{"100.64.1.1", false}, {"224.0.0.1", false}, {"ff02::1", false}, {"64:ff9b::7f00:1", false},
		{"2002:7f00:1::", false}, {"198.18.0.1", false}, {"255.255.255.255", false},
	} {
		t.Run(tc.ip, func(t *testing.T) {
			if got := webhooks.AllowedAddress(netip.MustParseAddr(tc.ip)); got != tc.allowed {
				t.Errorf("allowed = %v, want %v", got, tc.allowed)
			}
		})
	}
}
