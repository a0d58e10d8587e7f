package accessindex_test

import (
	"context"
	"testing"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/accessindex"
	"github.com/rosterhq/roster/infra/eventstore"
	pt "github.com/rosterhq/roster/projections/projectiontest"
)

// A custom role's permissions change for every holder at the event's
// position, whether the index followed the role's creation from the feed
// or loaded it from the read model.
func TestIndexCustomRolePermissionsChange(t *testing.T) {
	t.Parallel()
	by := func(e domain.Event) pt.Step {
		return pt.Step{PropertyID: pt.Acme, ActorID: pt.Owner, ActorEmail: pt.OwnerEmail, Event: e}
	}
	chats := []domain.Permission{domain.PermRespondToChats}
	manage := []domain.Permission{domain.PermManageMembers, domain.PermViewMembers}
	setup := append(pt.Script()[:2:2],
		by(domain.RoleCreated{Schema: 1, RoleID: "role-lead", Name: "Lead", Permissions: chats}),
		by(domain.MemberJoined{Schema: 1, AccountID: pt.Ann, Email: pt.AnnEmail, Role: "role-lead"}),
		by(domain.MemberJoined{Schema: 1, AccountID: pt.Cat, Email: pt.CatEmail, Role: "role-lead"}))
	for _, tt := range []struct {
		name   string
		before bool
		max    int
	}{{"followed from the feed", true, 0}, {"loaded from the read model", false, 0}, {"read again when asked", true, 1}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			w := newWorld(t)
			var x *accessindex.Index
			if tt.before {
				x = w.start(t, accessindex.Config{MaxEntries: tt.max, Recent: 64})
			}
			pos := w.add(t, setup...)
			if !tt.before {
				x = w.start(t, accessindex.Config{MaxEntries: tt.max, Recent: 64})
			}
			expect := func(at eventstore.Position, perm domain.Permission, want bool) {
				t.Helper()
				items := []accessindex.Item{{PropertyID: pt.Acme, AccountID: pt.Ann, Permission: perm},
					{PropertyID: pt.Acme, AccountID: pt.Cat, Permission: perm}}
				got, err := x.Check(ctx, items, &at)
				if err != nil {
					t.Fatal(err)
				}
				for i, a := range got {
					if a.Allowed != want || a.Role != "role-lead" {
						t.Errorf("%s of %s at %s: allowed %v role %q, want %v role-lead", perm, items[i].AccountID, at, a.Allowed, a.Role, want)
					}
				}
			}
			expect(pos, domain.PermRespondToChats, true)
			expect(pos, domain.PermManageMembers, false)
			pos = w.add(t, by(domain.RolePermissionsChanged{Schema: 1, RoleID: "role-lead", From: chats, To: manage}))
			expect(pos, domain.PermRespondToChats, false)
			expect(pos, domain.PermManageMembers, true)
			expect(pos, domain.PermTransferOwnership, false)
		})
	}
}
