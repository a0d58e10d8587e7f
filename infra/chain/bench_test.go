package chain_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"

	"github.com/rosterhq/roster/infra/chain"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/memory"
	"github.com/rosterhq/roster/infra/eventstore/postgres"
	"github.com/rosterhq/roster/infra/pgtest"
)

// appendChained writes n linked events of typical size to stream, a
// thousand per append.
func appendChained(b *testing.B, store eventstore.Store, stream string, n int) {
	b.Helper()
	prev := chain.Genesis
	for first := 0; first < n; first += 1000 {
		batch := make([]eventstore.EventData, 0, 1000)
		for i := first; i < min(first+1000, n); i++ {
			id := uuid.NewString()
			e := eventstore.EventData{ID: id, Type: "MemberInvited",
				Data: []byte(fmt.Sprintf(`{"schema":1,"invitation_id":"%s","email":"person%d@example.com","role":"agent","expires_at":"2026-03-08T09:00:00Z","token_hash":"%064d"}`, uuid.NewString(), i, i)),
				Metadata: []byte(fmt.Sprintf(`{"event_id":"%s","command_id":"%s","correlation_id":"%s","causation_id":"%s","actor_id":"acc-owner","actor_email":"owner@example.com","occurred_at":"2026-03-01T09:00:00Z","client_ip":"203.0.113.9","user_agent":"Mozilla/5.0","schema":1}`,
					id, uuid.NewString(), uuid.NewString(), uuid.NewString()))}
			var err error
			if prev, err = chain.Link(stream, uint64(i), &e, prev); err != nil {
				b.Fatal(err)
			}
			batch = append(batch, e)
		}
		expected := eventstore.NoStream()
		if first > 0 {
			expected = eventstore.Exact(uint64(first - 1))
		}
		if _, err := store.Append(context.Background(), stream, expected, batch); err != nil {
			b.Fatal(err)
		}
	}
}

func benchmarkVerify(b *testing.B, store eventstore.Store, n int) {
	appendChained(b, store, "property-bench", n)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		rep, err := chain.Verify(context.Background(), store, "property-bench")
		if err != nil || !rep.OK || rep.Events != uint64(n) {
			b.Fatalf("Verify = %+v, %v", rep, err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkVerify: go test -run '^$' -bench Verify -benchtime 5x ./infra/chain/
func BenchmarkVerifyMemory100k(b *testing.B) { benchmarkVerify(b, memory.New(), 100_000) }

func BenchmarkVerifyPostgres100k(b *testing.B) {
	benchmarkVerify(b, postgres.New(pgtest.NewPool(b)), 100_000)
}
