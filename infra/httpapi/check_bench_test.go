package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/accessindex"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/readmodels"
)

// grantsOf is a read model of 10,000 properties of ten members each, and
// a feed with nothing after it.
type grantsOf struct{}

func (grantsOf) EachGrant(_ context.Context, fn func(readmodels.Grant) error) (eventstore.Position, error) {
	for p := range 10_000 {
		for m := range 10 {
			if err := fn(readmodels.Grant{PropertyID: fmt.Sprintf("p-%d", p), OwnerID: "acc-0", AccountID: fmt.Sprintf("acc-%d", m),
				Role: domain.RoleAgent, Status: domain.StatusEnabled}); err != nil {
				return eventstore.Start, err
			}
		}
	}
	return eventstore.Position{Commit: 1}, nil
}

func (grantsOf) PropertyGrants(context.Context, string) ([]readmodels.Grant, eventstore.Position, error) {
	return nil, eventstore.Position{Commit: 1}, nil
}

func (grantsOf) SubscribeAll(context.Context, eventstore.Position) (eventstore.Subscription, error) {
	return idle{}, nil
}

func (grantsOf) Head(context.Context) (eventstore.Position, error) {
	return eventstore.Position{Commit: 1}, nil
}

type idle struct{}

func (idle) Next(ctx context.Context) ([]eventstore.RecordedEvent, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
func (idle) Close() error { return nil }

// BenchmarkCheckRoute is POST /v1/access/check through the whole handler
// (edge checks, request ID, service authentication, decoding, the index,
// encoding) for 100,000 memberships, without a network: the server's own
// cost per check.
func BenchmarkCheckRoute(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	x := accessindex.New(grantsOf{}, grantsOf{}, accessindex.Config{})
	go func() { _ = x.Run(ctx) }()
	if _, err := x.Check(ctx, []accessindex.Item{{PropertyID: "p-1", AccountID: "acc-1", Permission: domain.PermViewMembers}}, nil); err != nil {
		b.Fatal(err)
	}
	h := New(Config{Checks: CheckConfig{Checker: x, Authenticate: func(context.Context, string) (string, error) { return "bench", nil }}})
	body := `{"account_id":"acc-3","property_id":"p-4242","permission":"respond_to_chats"}`
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodPost, "/v1/access/check", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer svc")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Fatalf("answer %d: %s", w.Code, w.Body)
			}
		}
	})
}
