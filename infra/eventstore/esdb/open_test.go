package esdb_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/gossip"
	"github.com/google/go-cmp/cmp"

	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/esdb"
	"github.com/rosterhq/roster/infra/eventstore/esdb/esdbdouble"
	"github.com/rosterhq/roster/infra/eventstore/storetest"
)

func TestOpenReadsTheClientsConnectionStrings(t *testing.T) {
	t.Parallel()
	ca := writeCA(t)
	tests := []struct {
		name    string
		url     string
		wantErr string // "" when Open must succeed
	}{
		{name: "one insecure node", url: "esdb://127.0.0.1:2113?tls=false"},
		{name: "a three-node cluster over TLS with its CA (the README's example)", url: "esdb://node1:2113,node2:2113,node3:2113?tls=true&tlsCAFile=" + ca},
		{name: "a cluster found through DNS, with credentials", url: "esdb+discover://admin:changeit@cluster.example:2113?nodePreference=leader"},
		{name: "another scheme is refused", url: "postgres://node1:5432", wantErr: "esdb://"},
		{name: "a missing CA file is refused", url: "esdb://node1:2113?tlsCAFile=" + filepath.Join(t.TempDir(), "none.crt"), wantErr: "no such file"},
		{name: "a bad port is refused without echoing the password", url: "esdb://admin:s3cret@node1:21x3", wantErr: "port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := esdb.Open(tt.url, esdb.Config{})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				_ = s.Close()
				return
			}
			if err == nil {
				_ = s.Close()
				t.Fatalf("Open succeeded, want an error mentioning %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "s3cret") {
				t.Errorf("Open error %q: want it to mention %q and no password", err, tt.wantErr)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  esdb.Config
		want []string // fragments of the joined error; none when valid
	}{
		{name: "the zero config takes the defaults", cfg: esdb.Config{}},
		{name: "a feed of system streams is refused", cfg: esdb.Config{FeedPrefix: "$ce-"}, want: []string{"system streams"}},
		{name: "every problem is reported at once", cfg: esdb.Config{BatchSize: -1, MinBackoff: time.Second, MaxBackoff: time.Millisecond, KnownIDs: -3, SubscribeTimeout: -time.Second},
			want: []string{"batch size -1", "backoff 1s..1ms", "known IDs -3", "subscribe timeout -1s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := esdb.NewWithConfig(nil, tt.cfg)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("NewWithConfig: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("NewWithConfig succeeded, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// TestClusterDiscovery connects with a cluster connection string whose
// seeds are a follower and a node that is down: the client reads the
// follower's gossip and goes to the leader it names, where the events land.
func TestClusterDiscovery(t *testing.T) {
	t.Parallel()
	leader := startDouble(t)
	host, port := splitAddr(t, leader.Addr())
	follower, err := esdbdouble.StartWith("127.0.0.1:0", esdbdouble.Options{Members: []esdbdouble.Member{
		{Host: host, Port: port, State: gossip.MemberInfo_Leader, Alive: true},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(follower.Close)
	down := freeAddr(t)
	s := openURL(t, "esdb://"+follower.Addr()+","+down+"?tls=false", esdb.Config{})
	events := storetest.Events(2)
	storetest.MustAppend(t, s, "property-c", eventstore.NoStream(), events)

	onLeader := openStore(t, leader, esdb.Config{})
	got, err := onLeader.ReadStream(context.Background(), "property-c", 0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ids(events), ids(got)); diff != "" {
		t.Errorf("the leader's stream (-appended +read):\n%s", diff)
	}
}

func splitAddr(t *testing.T, addr string) (string, int) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return host, p
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// writeCA writes a self-signed CA certificate and returns its path.
func writeCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "roster test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
