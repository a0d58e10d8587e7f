package loadgen

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/commands"
	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/auth"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/memory"
	"github.com/rosterhq/roster/infra/httpapi"
	"github.com/rosterhq/roster/infra/invitetoken"
)

const testSecret = "loadgen-test-secret-0123456789abcdef"

// lossyGateway forwards every request to Roster and loses the answer of
// each write's first attempt once Roster has handled it: as a dropped
// connection, or with badGateway as a 502 from a gateway. A write is told
// apart by its method, path and body, so it is recognised whether or not
// it carries a key. It records each attempt's Idempotency-Key.
type lossyGateway struct {
	next       http.RoundTripper
	badGateway bool

	mu     sync.Mutex
	writes int
	keys   map[string][]string // write → the key of each attempt
}

func (g *lossyGateway) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodGet {
		return g.next.RoundTrip(req)
	}
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	write := req.Method + " " + req.URL.Path + "\n" + string(body)
	g.mu.Lock()
	first := len(g.keys[write]) == 0
	g.keys[write] = append(g.keys[write], req.Header.Get("Idempotency-Key"))
	if first {
		g.writes++
	}
	g.mu.Unlock()

	resp, err := g.next.RoundTrip(req)
	if err != nil || !first {
		return resp, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if !g.badGateway {
		return nil, io.ErrUnexpectedEOF // the connection dropped before the answer
	}
	return &http.Response{StatusCode: http.StatusBadGateway, Status: "502 Bad Gateway", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"text/plain"}}, Body: io.NopCloser(strings.NewReader("upstream connection lost")),
		ContentLength: -1, Request: req}, nil
}

// lossyBench is a bench against Roster's command side, in process over a
// memory event store, behind a lossyGateway.
func lossyBench(t *testing.T, badGateway bool) (*bench, *lossyGateway, *memory.Store) {
	t.Helper()
	store := memory.New()
	verifier, err := auth.NewVerifier(context.Background(), auth.VerifierConfig{Secret: []byte(testSecret)})
	if err != nil {
		t.Fatal(err)
	}
	api := httpapi.New(httpapi.Config{Log: zerolog.Nop(),
		Commands: commands.New(commands.Config{Store: store, Tokens: invitetoken.New([]byte("loadgen-test-invitation-key-32-bytes"))}),
		Authenticate: func(ctx context.Context, raw string) (domain.Actor, error) {
			c, err := verifier.Verify(ctx, raw)
			if err != nil {
				return domain.Actor{}, err
			}
			return domain.Actor{AccountID: c.Subject, Email: c.Email, EmailVerified: c.EmailVerified}, nil
		}})
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	gw := &lossyGateway{next: srv.Client().Transport, badGateway: badGateway, keys: map[string][]string{}}
	c := newClient(srv.URL)
	c.http.Transport = gw
	cfg := Config{URL: srv.URL, Secret: testSecret, Clients: 4}
	cfg.setDefaults()
	b := &bench{cfg: cfg, c: c, runID: "test", data: &dataset{},
		tokens: &tokens{secret: testSecret, issuer: auth.DefaultIssuer, audience: auth.DefaultAudience, ttl: 6 * time.Hour},
		owner:  account{ID: "bench-owner", Email: "bench-owner@bench.example"}}
	return b, gw, store
}

// TestSeedingCompletesWhenAnswersAreLostAfterTheWriteLanded: every write's
// first answer is lost after Roster handled it. Each is sent again with the
// same Idempotency-Key and answered with the first one's result, so the
// seeding completes without a 409, every write lands once, and no two
// writes share a key.
func TestSeedingCompletesWhenAnswersAreLostAfterTheWriteLanded(t *testing.T) {
	for _, tt := range []struct {
		name       string
		badGateway bool
	}{
		{"the connection drops before the answer", false},
		{"a gateway answers 502 after forwarding", true},
	} {
		t.Run(tt.name, func(t *testing.T) { seedThroughLosses(t, tt.badGateway) })
	}
}

func seedThroughLosses(t *testing.T, badGateway bool) {
	ctx := context.Background()
	b, gw, store := lossyBench(t, badGateway)
	tok, err := b.tokens.token(b.owner)
	if err != nil {
		t.Fatal(err)
	}
	var pos positions
	const members, longEvents, filler = 120, 300, 260
	if _, err := b.seedRead(ctx, tok, members, "", &pos); err != nil {
		t.Fatalf("seed the read property: %v", err)
	}
	if _, err := b.seedLong(ctx, tok, longEvents, "", 0, &pos); err != nil {
		t.Fatalf("seed the long-stream property: %v", err)
	}
	if _, err := b.seedFiller(ctx, tok, filler, &pos); err != nil {
		t.Fatalf("seed the rebuild history: %v", err)
	}

	var (
		created  = map[string]int{} // property name → creations
		invited  = map[string]int{} // stream and email → invitations
		accepted = map[string]int{} // invitation → acceptances
		revoked  = map[string]int{} // invitation → revocations
		joined   = map[string]int{} // stream and account → joins
	)
	var after eventstore.Position
	for {
		batch, err := store.ReadAll(ctx, after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(batch) == 0 {
			break
		}
		for _, rec := range batch {
			e, err := domain.DecodeEvent(rec.Type, rec.Data)
			if err != nil {
				t.Fatalf("event %s: %v", rec.ID, err)
			}
			switch ev := e.(type) {
			case domain.PropertyCreated:
				created[ev.Name]++
			case domain.MemberInvited:
				invited[rec.StreamID+" "+ev.Email]++
			case domain.InvitationAccepted:
				accepted[ev.InvitationID]++
			case domain.InvitationRevoked:
				revoked[ev.InvitationID]++
			case domain.MemberJoined:
				joined[rec.StreamID+" "+ev.AccountID]++
			}
		}
		after = batch[len(batch)-1].Position
	}
	for name, n := range created {
		if n != 1 {
			t.Errorf("property %s created %d times, want once", name, n)
		}
	}
	if len(created) != 3 {
		t.Errorf("%d properties created (%v), want 3: read, long-stream, filler", len(created), created)
	}
	for what, counts := range map[string]map[string]int{"invited": invited, "accepted": accepted, "revoked": revoked, "joined": joined} {
		for k, n := range counts {
			if n != 1 {
				t.Errorf("%s %s %d times, want once", what, k, n)
			}
		}
	}
	// The read property's members are imported: one MemberJoined each,
	// besides the three properties' owners.
	if len(joined) != members+3 {
		t.Errorf("%d members joined, want %d imported and 3 owners", len(joined), members)
	}

	gw.mu.Lock()
	defer gw.mu.Unlock()
	if gw.writes == 0 {
		t.Fatal("no write went through the gateway")
	}
	owner := map[string]string{} // key → write
	for write, keys := range gw.keys {
		head, _, _ := strings.Cut(write, "\n")
		if len(keys) < 2 {
			t.Errorf("%s: %d attempts, want the lost one sent again", head, len(keys))
		}
		for _, k := range keys {
			if k == "" || k != keys[0] {
				t.Errorf("%s: attempts with keys %q, want one key for all", head, keys)
				break
			}
		}
		if other, ok := owner[keys[0]]; ok {
			t.Errorf("key %q sent with two writes: %s and %s", keys[0], head, other)
		}
		owner[keys[0]] = head
	}
}

// TestEveryWriteCarriesAnIdempotencyKey: a write the scenarios send once
// carries a fresh key too; a read carries none.
func TestEveryWriteCarriesAnIdempotencyKey(t *testing.T) {
	ctx := context.Background()
	b, gw, _ := lossyBench(t, false)
	tok, err := b.tokens.token(b.owner)
	if err != nil {
		t.Fatal(err)
	}
	var pos positions
	pid, err := b.createProperty(ctx, &pos, tok, "bench-fresh")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		b.inviteOne(ctx, tok, pid, "spread", 0, i)
	}
	b.c.do(ctx, http.MethodDelete, "/v1/properties/"+pid+"/invitations/"+pid, tok, nil)
	gw.mu.Lock()
	defer gw.mu.Unlock()
	seen := map[string]bool{}
	for write, keys := range gw.keys {
		head, _, _ := strings.Cut(write, "\n")
		for _, k := range keys {
			if k == "" {
				t.Errorf("%s sent without an Idempotency-Key", head)
			}
		}
		if seen[keys[0]] {
			t.Errorf("%s reuses another write's key %q", head, keys[0])
		}
		seen[keys[0]] = true
	}
	if want := 4; len(gw.keys) != want {
		t.Errorf("%d writes through the gateway, want %d", len(gw.keys), want)
	}
}
