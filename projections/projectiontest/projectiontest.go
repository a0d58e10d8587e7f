// Package projectiontest feeds property histories to the projections, for
// the tests of projections and readmodels: scripted ones (Script), and
// generated ones of any length (Mix) for tests and benchmarks that need
// volume. Step i of a history happens at At(i), so a test can name every
// time it expects.
package projectiontest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/consumers"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/projections"
)

// T0 is when step 0 of every history happens.
var T0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// At is when step i happens: one minute after step i-1.
func At(i int) time.Time { return T0.Add(time.Duration(i) * time.Minute) }

// InviteTTL is how long the scripted invitations stay valid.
const InviteTTL = 7 * 24 * time.Hour

// Step is one event of a history, with the actor who caused it.
type Step struct {
	PropertyID string
	ActorID    string
	ActorEmail string
	Event      domain.Event
}

// Appender is the part of the event store a History writes to.
type Appender interface {
	Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events []eventstore.EventData) (eventstore.AppendResult, error)
}

// History appends steps to a store one by one, numbering them.
type History struct {
	tb    testing.TB
	store Appender
	n     int
	// Last is the position of the last event appended.
	Last eventstore.Position
	// Count is how many events have been appended.
	Count int
}

// NewHistory returns an empty history writing to store.
func NewHistory(tb testing.TB, store Appender) *History {
	return &History{tb: tb, store: store}
}

// Add appends each step as its own event, step k at At(k) where k counts
// from the history's first step, and returns the last position.
func (h *History) Add(steps ...Step) eventstore.Position {
	h.tb.Helper()
	for _, s := range steps {
		typ, data, err := domain.EncodeEvent(s.Event)
		if err != nil {
			h.tb.Fatalf("encode step %d: %v", h.n, err)
		}
		id := NewID()
		meta, err := json.Marshal(domain.Metadata{
			EventID: id, CommandID: NewID(), CorrelationID: NewID(), CausationID: NewID(),
			ActorID: s.ActorID, ActorEmail: s.ActorEmail, OccurredAt: At(h.n), Schema: domain.SchemaV1,
		})
		if err != nil {
			h.tb.Fatalf("encode metadata of step %d: %v", h.n, err)
		}
		res, err := h.store.Append(context.Background(), domain.StreamName(s.PropertyID), eventstore.Any(),
			[]eventstore.EventData{{ID: id, Type: typ, Data: data, Metadata: meta}})
		if err != nil {
			h.tb.Fatalf("append step %d (%s): %v", h.n, typ, err)
		}
		h.n++
		h.Count++
		h.Last = res.Position
	}
	return h.Last
}

// NewID returns a random UUID in the canonical lower-case form.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	s := hex.EncodeToString(b[:])
	return s[:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}

// Start runs the projections ps over feed in the background until the test
// ends, logging to log: the application's consumers (infra/consumers), as
// one instance of its own, with the redelivery and the stopped projections'
// polls shortened so tests of failures do not sit through production
// delays.
func Start(tb testing.TB, pool *pgxpool.Pool, feed projections.Feed, log zerolog.Logger, ps ...projections.Projection) {
	tb.Helper()
	c, err := consumers.New(consumers.Config{Pool: pool, Feed: feed, Log: log, Instance: "test-" + NewID(),
		NackBackoff: time.Millisecond, MaxNackBackoff: 10 * time.Millisecond, StopPoll: 5 * time.Millisecond,
		Retry: middleware.Retry{MaxRetries: 2, InitialInterval: time.Millisecond, MaxInterval: 5 * time.Millisecond, Multiplier: 2}})
	if err != nil {
		tb.Fatalf("consumers: %v", err)
	}
	for _, p := range ps {
		c.AddProjection(p)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := c.Run(ctx); err != nil {
			tb.Errorf("consumers: %v", err)
		}
	})
	tb.Cleanup(func() { cancel(); wg.Wait() })
}

// Wait blocks until the checkpoint of every projection named reaches pos.
// It fails the test if that takes more than a minute, a bound no healthy run
// comes near: it guards against a hang, it does not measure speed.
func Wait(tb testing.TB, pool *pgxpool.Pool, pos eventstore.Position, names ...string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		cps, err := projections.Checkpoints(ctx, pool)
		if err != nil {
			tb.Fatalf("wait for %s: %v", pos, err)
		}
		behind := ""
		for _, n := range names {
			if cps[n].Less(pos) {
				behind = n
				break
			}
		}
		if behind == "" {
			return
		}
		select {
		case <-ctx.Done():
			tb.Fatalf("projection %s did not reach %s (it is at %s)", behind, pos, cps[behind])
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// Names returns the names of ps.
func Names(ps ...projections.Projection) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Name
	}
	return out
}

// Tables lists the tables of ps.
func Tables(ps ...projections.Projection) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Tables...)
	}
	return out
}

// TableRows returns every row of every table of ps as JSON, sorted: two
// sets of read models that hold the same are equal.
func TableRows(tb testing.TB, pool *pgxpool.Pool, ps ...projections.Projection) map[string][]string {
	tb.Helper()
	out := map[string][]string{}
	for _, table := range Tables(ps...) {
		r, err := pool.Query(context.Background(), `SELECT to_jsonb(x)::text FROM `+pgx.Identifier{table}.Sanitize()+` x ORDER BY 1`)
		if err != nil {
			tb.Fatalf("read %s: %v", table, err)
		}
		rows, err := pgx.CollectRows(r, pgx.RowTo[string])
		if err != nil {
			tb.Fatalf("read %s: %v", table, err)
		}
		out[table] = rows
	}
	return out
}

// IDs and emails of the accounts, properties and invitations in Script.
const (
	Acme, Beta                   = "p-acme", "p-beta"
	Owner, Ann, Cat, Fay, Other  = "acc-owner", "acc-ann", "acc-cat", "acc-fay", "acc-other"
	Eve                          = "acc-eve"
	OwnerEmail, AnnEmail         = "owner@example.com", "ann@example.com"
	BobEmail, CatEmail, DeeEmail = "bob@example.com", "cat@example.com", "dee@example.com"
	FayEmail, OtherEmail         = "fay@example.com", "other@example.com"
	EveEmail                     = "eve@example.com"
	InvAnn, InvBob, InvCat       = "inv-ann", "inv-bob", "inv-cat"
	InvDee, InvFay               = "inv-dee", "inv-fay"
	InvAnnBeta, InvEveBeta       = "inv-ann-beta", "inv-eve-beta"
)

// Script is the standard history: every event type, over two properties.
// The comment on each step is its index, so its time is At(index).
//
// Afterwards Acme (owned by Ann since step 14) has members Owner and Ann,
// one pending invitation (Dee's, resent at step 16), and Ann's and Cat's and
// Fay's accepted, Bob's revoked; Cat was removed and Fay left. Beta has
// member Other and Ann's pending invitation; Eve declined hers.
func Script() []Step {
	by := func(pid, actor, email string, e domain.Event) Step {
		return Step{PropertyID: pid, ActorID: actor, ActorEmail: email, Event: e}
	}
	invite := func(i int, id, email string, role domain.Role, by string) domain.MemberInvited {
		return domain.MemberInvited{Schema: 1, InvitationID: id, Email: email, Role: role, InvitedBy: by,
			ExpiresAt: At(i).Add(InviteTTL), TokenNonce: "nonce-" + id}
	}
	return []Step{
		/* 0 */ by(Acme, Owner, OwnerEmail, domain.PropertyCreated{Schema: 1, PropertyID: Acme, Name: "Acme", OwnerID: Owner}),
		/* 1 */ by(Acme, Owner, OwnerEmail, domain.MemberJoined{Schema: 1, AccountID: Owner, Email: OwnerEmail, Role: domain.RoleAdmin}),
		/* 2 */ by(Acme, Owner, OwnerEmail, invite(2, InvAnn, AnnEmail, domain.RoleAgent, Owner)),
		/* 3 */ by(Acme, Owner, OwnerEmail, invite(3, InvBob, BobEmail, domain.RoleAdmin, Owner)),
		/* 4 */ by(Acme, Ann, AnnEmail, domain.InvitationAccepted{Schema: 1, InvitationID: InvAnn, AccountID: Ann}),
		/* 5 */ by(Acme, Ann, AnnEmail, domain.MemberJoined{Schema: 1, AccountID: Ann, Email: AnnEmail, Role: domain.RoleAgent, InvitationID: InvAnn}),
		/* 6 */ by(Acme, Owner, OwnerEmail, domain.InvitationRevoked{Schema: 1, InvitationID: InvBob}),
		/* 7 */ by(Acme, Owner, OwnerEmail, domain.MemberRoleChanged{Schema: 1, AccountID: Ann, From: domain.RoleAgent, To: domain.RoleAdmin}),
		/* 8 */ by(Acme, Owner, OwnerEmail, domain.MemberAccessDisabled{Schema: 1, AccountID: Ann}),
		/* 9 */ by(Acme, Owner, OwnerEmail, domain.MemberAccessEnabled{Schema: 1, AccountID: Ann}),
		/* 10 */ by(Acme, Owner, OwnerEmail, invite(10, InvCat, CatEmail, domain.RoleAgent, Owner)),
		/* 11 */ by(Acme, Cat, CatEmail, domain.InvitationAccepted{Schema: 1, InvitationID: InvCat, AccountID: Cat}),
		/* 12 */ by(Acme, Cat, CatEmail, domain.MemberJoined{Schema: 1, AccountID: Cat, Email: CatEmail, Role: domain.RoleAgent, InvitationID: InvCat}),
		/* 13 */ by(Acme, Owner, OwnerEmail, domain.MemberRemoved{Schema: 1, AccountID: Cat}),
		/* 14 */ by(Acme, Owner, OwnerEmail, domain.OwnershipTransferred{Schema: 1, From: Owner, To: Ann}),
		/* 15 */ by(Acme, Ann, AnnEmail, invite(15, InvDee, DeeEmail, domain.RoleAgent, Ann)),
		/* 16 */ by(Acme, Ann, AnnEmail, domain.InvitationResent{Schema: 1, InvitationID: InvDee, ExpiresAt: At(16).Add(2 * InviteTTL), TokenNonce: "nonce-resent"}),
		/* 17 */ by(Acme, Ann, AnnEmail, invite(17, InvFay, FayEmail, domain.RoleAgent, Ann)),
		/* 18 */ by(Acme, Fay, FayEmail, domain.InvitationAccepted{Schema: 1, InvitationID: InvFay, AccountID: Fay}),
		/* 19 */ by(Acme, Fay, FayEmail, domain.MemberJoined{Schema: 1, AccountID: Fay, Email: FayEmail, Role: domain.RoleAgent, InvitationID: InvFay}),
		/* 20 */ by(Acme, Fay, FayEmail, domain.MemberLeft{Schema: 1, AccountID: Fay}),
		/* 21 */ by(Beta, Other, OtherEmail, domain.PropertyCreated{Schema: 1, PropertyID: Beta, Name: "Beta", OwnerID: Other}),
		/* 22 */ by(Beta, Other, OtherEmail, domain.MemberJoined{Schema: 1, AccountID: Other, Email: OtherEmail, Role: domain.RoleAdmin}),
		/* 23 */ by(Beta, Other, OtherEmail, invite(23, InvAnnBeta, AnnEmail, domain.RoleAgent, Other)),
		/* 24 */ by(Beta, Other, OtherEmail, invite(24, InvEveBeta, EveEmail, domain.RoleAgent, Other)),
		/* 25 */ by(Beta, Eve, EveEmail, domain.InvitationDeclined{Schema: 1, InvitationID: InvEveBeta}),
	}
}
