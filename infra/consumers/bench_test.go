package consumers_test

import (
	"context"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/infra/consumers"
	"github.com/rosterhq/roster/infra/eventstore/memory"
	"github.com/rosterhq/roster/infra/feed"
	"github.com/rosterhq/roster/infra/pgtest"
	"github.com/rosterhq/roster/infra/webhooks"
	pt "github.com/rosterhq/roster/projections/projectiontest"
)

// followEvents is the length of the feed BenchmarkFollow follows.
const followEvents = 10000

// BenchmarkFollow times a consumer following a feed of followEvents
// generated events (pt.Mix, in a memory store) from its start until its
// checkpoint, saved in PostgreSQL under its lease, reaches the head: the
// webhooks consumer, with an endpoint on one property in ten, and a handler
// that does nothing, which leaves the cost of the messages and of the
// checkpoints' saves. It reports events/s, and the deliveries queued.
//
//	go test ./infra/consumers/ -run '^$' -bench Follow -benchtime 1x -count 3
func BenchmarkFollow(b *testing.B) {
	ctx := context.Background()
	pool := pgtest.NewPool(b)
	store := memory.New()
	steps := pt.Mix(1, followEvents)
	n := pt.Load(b, store, steps, 2, 50)
	head, err := store.Head(ctx)
	if err != nil {
		b.Fatal(err)
	}
	seen := map[string]bool{}
	for _, s := range steps {
		if seen[s.PropertyID] {
			continue
		}
		if len(seen)%10 == 0 {
			if _, err := pool.Exec(ctx, `INSERT INTO webhook_endpoints (endpoint_id, property_id, url, event_types, enabled, secret_nonce)
				VALUES ($1, $2, 'https://example.com/hook', ARRAY['*'], true, 'n')`, uuid.NewString(), s.PropertyID); err != nil {
				b.Fatal(err)
			}
		}
		seen[s.PropertyID] = true
	}
	hooks, err := webhooks.New(webhooks.Config{Pool: pool, Secrets: webhooks.NewSecrets([]byte("the webhook server key of bench!")), Log: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	cases := []struct {
		name    string
		handler message.NoPublishHandlerFunc
	}{
		{"webhooks", hooks.Handle},
		{"nothing", func(*message.Message) error { return nil }},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			var took time.Duration
			for range b.N {
				b.StopTimer()
				if _, err := pool.Exec(ctx, `DELETE FROM consumer_checkpoints WHERE name = $1`, bc.name); err != nil {
					b.Fatal(err)
				}
				if _, err := pool.Exec(ctx, `TRUNCATE webhook_deliveries CASCADE`); err != nil {
					b.Fatal(err)
				}
				c, err := consumers.New(consumers.Config{Pool: pool, Feed: store, Log: zerolog.Nop(), Instance: "bench-" + uuid.NewString()[:8]})
				if err != nil {
					b.Fatal(err)
				}
				addFollower(c, bc.name, bc.handler)
				runCtx, cancel := context.WithCancel(ctx)
				done := make(chan error, 1)
				b.StartTimer()
				start := time.Now()
				go func() { done <- c.Run(runCtx) }()
				for {
					cp, err := feed.NewPGCheckpoints(pool).Load(ctx, bc.name)
					if err != nil {
						b.Fatal(err)
					}
					if cp == head {
						break
					}
					time.Sleep(10 * time.Millisecond)
				}
				took += time.Since(start)
				b.StopTimer()
				cancel()
				if err := <-done; err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n*b.N)/took.Seconds(), "events/s")
			// The same count before and after says both queued the same.
			var queued int
			if err := pool.QueryRow(ctx, `SELECT count(*) FROM webhook_deliveries`).Scan(&queued); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(queued), "deliveries")
		})
	}
}
