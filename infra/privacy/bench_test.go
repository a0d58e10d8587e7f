package privacy

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/pgtest"
)

// BenchmarkSeal seals one invitation command's event, in parallel: with
// the people known (keys in memory), and with a new invitee every time (one
// round trip to make the key, and its commit).
func BenchmarkSeal(b *testing.B) {
	v := NewVault(pgtest.NewPool(b))
	b.Run("known people", func(b *testing.B) {
		tmpl := event(b, invited("cat@example.com"), ann)
		if err := v.Seal(context.Background(), []eventstore.EventData{tmpl}); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				events := []eventstore.EventData{tmpl}
				if err := v.Seal(context.Background(), events); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("new invitee", func(b *testing.B) {
		// Every run invites people no run has met: a repeat would find
		// them in memory.
		var n atomic.Int64
		run := uuid.NewString()[:8]
		tmpl := event(b, invited("cat@example.com"), ann)
		b.ReportAllocs()
		b.SetParallelism(8) // requests wait on the database, as the API's do
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				e := tmpl
				e.Data = fmt.Appendf(nil, `{"schema":1,"invitation_id":"i","email":"new%s-%d@example.com","role":"agent"}`, run, n.Add(1))
				if err := v.Seal(context.Background(), []eventstore.EventData{e}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkOpen opens a stream of 50 sealed events of five people, as the
// executor loads a property: one query for the keys per call.
func BenchmarkOpen(b *testing.B) {
	v := NewVault(pgtest.NewPool(b))
	people := []actor{ann, bob, {id: "c", email: "c@example.com", ip: "192.0.2.3", ua: "x/1"},
		{id: "d", email: "d@example.com", ip: "192.0.2.4", ua: "y/1"}, {id: "e", email: "e@example.com", ip: "192.0.2.5", ua: "z/1"}}
	events := make([]eventstore.EventData, 50)
	for i := range events {
		events[i] = event(b, invited(people[(i+1)%len(people)].email), people[i%len(people)])
	}
	if err := v.Seal(context.Background(), events); err != nil {
		b.Fatal(err)
	}
	stored := recorded(events...)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		recs := make([]eventstore.RecordedEvent, len(stored))
		for pb.Next() {
			copy(recs, stored)
			if err := v.Open(context.Background(), recs); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
