package commands_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/rosterhq/roster/commands"
	"github.com/rosterhq/roster/domain"
)

// The scheduler's command appends an expiry once, however many instances
// ask, and only once the moment has come; a member whose end has come is
// refused as disabled from that moment, before the expiry is appended.
func TestAccessUntil_ExpiresOnceFromTheMoment(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	pid := f.create()
	f.join(pid, ada, "admin")
	end := t0.Add(time.Hour)
	if _, err := f.h.SetAccessUntil.Handle(ctx, as(owner), commands.SetAccessUntil{PropertyID: pid, AccountID: ada.AccountID,
		AccessUntil: end.Format(time.RFC3339)}); err != nil {
		t.Fatal(err)
	}
	_, err := f.h.SetAccessUntil.Handle(ctx, as(owner), commands.SetAccessUntil{PropertyID: pid, AccountID: ada.AccountID,
		AccessUntil: t0.Add(-time.Minute).Format(time.RFC3339)})
	wantErr(t, err, domain.KindInvalid, domain.CodeAccessUntilInPast)

	other := f.instance()
	if _, err := f.h.ExpireAccess.Handle(ctx, "test", pid, ada.AccountID); err != nil {
		t.Fatal(err)
	}
	if got := f.types(pid); slices.Contains(got, domain.TypeMemberAccessExpired) {
		t.Fatalf("expired before the moment: %v", got)
	}
	f.clock.Advance(time.Hour)
	_, err = f.h.SetAccess.Handle(ctx, as(ada), commands.SetAccess{PropertyID: pid, AccountID: owner.AccountID})
	wantErr(t, err, domain.KindForbidden, domain.CodeAccessDisabled)
	for _, h := range []commands.Handlers{f.h, other, f.h} {
		if _, err := h.ExpireAccess.Handle(ctx, "test", pid, ada.AccountID); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	for _, ty := range f.types(pid) {
		if ty == domain.TypeMemberAccessExpired {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d MemberAccessExpired, want 1: %v", n, f.types(pid))
	}
}
