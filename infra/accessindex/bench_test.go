package accessindex

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/readmodels"
)

// grantsSource is a read model of n properties of m members each.
type grantsSource struct{ properties, members int }

func (s grantsSource) EachGrant(_ context.Context, fn func(readmodels.Grant) error) (eventstore.Position, error) {
	for p := range s.properties {
		for m := range s.members {
			role := domain.RoleAgent
			if m == 0 {
				role = domain.RoleAdmin
			}
			g := readmodels.Grant{PropertyID: fmt.Sprintf("p-%d", p), OwnerID: "acc-0", AccountID: fmt.Sprintf("acc-%d", m),
				Role: role, Status: domain.StatusEnabled}
			if err := fn(g); err != nil {
				return eventstore.Start, err
			}
		}
	}
	return eventstore.Position{Commit: 1}, nil
}

func (s grantsSource) PropertyGrants(context.Context, string) ([]readmodels.Grant, eventstore.Position, error) {
	return nil, eventstore.Position{Commit: 1}, nil
}

// loadedIndex is an index of 100,000 memberships in 10,000 properties,
// fresh now.
func loadedIndex(b *testing.B) *Index {
	b.Helper()
	x := New(grantsSource{properties: 10_000, members: 10}, nil, Config{})
	if err := x.loadAll(context.Background()); err != nil {
		b.Fatal(err)
	}
	x.fresh = time.Now().Add(time.Hour)
	return x
}

func BenchmarkLookup(b *testing.B) {
	x := loadedIndex(b)
	items := make([]Item, 100)
	for i := range items {
		items[i] = Item{PropertyID: fmt.Sprintf("p-%d", i*97%10_000), AccountID: fmt.Sprintf("acc-%d", i%12), Permission: domain.PermManageMembers}
	}
	b.Run("single", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := x.Check(context.Background(), items[i%100:i%100+1], nil); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	})
	b.Run("bulk100", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := x.Check(context.Background(), items, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.ReportMetric(float64(b.N*len(items))/b.Elapsed().Seconds(), "items/s")
	})
}

func BenchmarkUpdate(b *testing.B) {
	x := loadedIndex(b)
	batch := make([]eventstore.RecordedEvent, 100)
	for i := range batch {
		var ev domain.Event = domain.MemberAccessDisabled{Schema: 1, AccountID: fmt.Sprintf("acc-%d", i%10)}
		if i%2 == 1 {
			ev = domain.MemberRoleChanged{Schema: 1, AccountID: fmt.Sprintf("acc-%d", i%10), From: domain.RoleAgent, To: domain.RoleAdmin}
		}
		data, err := json.Marshal(ev)
		if err != nil {
			b.Fatal(err)
		}
		batch[i] = eventstore.RecordedEvent{ID: fmt.Sprint(i), StreamID: domain.StreamPrefix + fmt.Sprintf("p-%d", i*31%10_000),
			Type: ev.EventType(), Data: data}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for n := range b.N {
		for i := range batch {
			batch[i].Position = eventstore.Position{Commit: uint64(2 + n), Prepare: uint64(i)}
		}
		x.applyBatch(batch)
	}
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkLoad loads 100,000 memberships in 10,000 properties and
// reports the heap they hold, per membership.
func BenchmarkLoad(b *testing.B) {
	var held uint64
	for range b.N {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		x := New(grantsSource{properties: 10_000, members: 10}, nil, Config{})
		if err := x.loadAll(context.Background()); err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		held = after.HeapAlloc - before.HeapAlloc
		runtime.KeepAlive(x)
	}
	b.ReportMetric(float64(held)/1e6, "MB-held")
	b.ReportMetric(float64(held)/100_000, "B/membership")
}

// BenchmarkGCMark is a full collection with 100,000 memberships in 10,000
// properties live: what every cycle of the server's collector pays for
// the index, besides the garbage of the checks.
func BenchmarkGCMark(b *testing.B) {
	x := loadedIndex(b)
	runtime.GC()
	b.ResetTimer()
	for range b.N {
		runtime.GC()
	}
	runtime.KeepAlive(x)
}
