package commands_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rosterhq/roster/commands"
	"github.com/rosterhq/roster/infra/eventstore/postgres"
	"github.com/rosterhq/roster/infra/pgtest"
	"github.com/rosterhq/roster/infra/privacy"
)

// BenchmarkHotPropertyPostgres measures invitations to one property from
// many goroutines at once on the PostgreSQL store, with personal data
// sealed: the executor runs one property's commands one at a time, so this
// is the hot-property ceiling of one instance, without HTTP.
// go test -run '^$' -bench HotProperty -benchtime 2000x -cpu 32 ./commands/
func BenchmarkHotPropertyPostgres(b *testing.B) {
	ctx := context.Background()
	pool := pgtest.NewPool(b)
	f := newFixture(b, nil)
	h := commands.New(serverConfig(pool, f))
	res, err := h.CreateProperty.Handle(ctx, as(owner), commands.CreateProperty{Name: "Hot"})
	if err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			if _, err := h.Invite.Handle(ctx, as(owner), commands.Invite{PropertyID: res.PropertyID,
				Rows: []commands.InviteRow{{Email: fmt.Sprintf("hot%d@example.com", i), Role: "agent"}}}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commands/s")
}

// BenchmarkSpreadPostgres measures invitations spread over many properties
// from many goroutines on the PostgreSQL store, with personal data sealed:
// every command is an append of its own, so this is the write side's
// ceiling of one instance on appends, without HTTP.
// go test -run '^$' -bench Spread -benchtime 4000x -cpu 32 ./commands/
func BenchmarkSpreadPostgres(b *testing.B) {
	ctx := context.Background()
	pool := pgtest.NewPool(b)
	f := newFixture(b, nil)
	h := commands.New(serverConfig(pool, f))
	const properties = 64
	pids := make([]string, properties)
	for i := range pids {
		res, err := h.CreateProperty.Handle(ctx, as(owner), commands.CreateProperty{Name: fmt.Sprintf("Spread %d", i)})
		if err != nil {
			b.Fatal(err)
		}
		pids[i] = res.PropertyID
	}
	var n atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			if _, err := h.Invite.Handle(ctx, as(owner), commands.Invite{PropertyID: pids[i%properties],
				Rows: []commands.InviteRow{{Email: fmt.Sprintf("spread%d@example.com", i), Role: "agent"}}}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commands/s")
}

// serverConfig is the write side as the server wires it on PostgreSQL:
// personal data sealed, new people's keys stored by the appends.
func serverConfig(pool *pgxpool.Pool, f *fixture) commands.Config {
	vault := privacy.NewVault(pool)
	return commands.Config{Store: postgres.New(pool), InviteTTL: ttl, Tokens: f.tokens, Vault: vault,
		Options: []commands.Option{commands.WithKeysInAppend(func() commands.KeyBatch { return vault.NewBatch() })}}
}
