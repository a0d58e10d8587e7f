package readmodels_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/projections"
	pt "github.com/rosterhq/roster/projections/projectiontest"
	"github.com/rosterhq/roster/readmodels"
)

// kinds lists the kinds and property names of a page, in order.
func kinds(p readmodels.NotificationPage) []string {
	var out []string
	for _, n := range p.Notifications {
		out = append(out, n.Kind+"@"+n.PropertyName)
	}
	return out
}

func TestNotifications(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pt.Script()...)
	ctx := context.Background()
	tests := []struct {
		name string
		to   readmodels.Recipient
		want []string
	}{
		{"a member sees each change to its access, newest first, after the invitation to its verified email",
			readmodels.Recipient{AccountID: pt.Ann, Email: pt.AnnEmail},
			[]string{"invitation_received@Beta", "access_enabled@Acme", "access_disabled@Acme", "role_changed@Acme", "invitation_received@Acme"}},
		{"without a verified email the invitation is not shown",
			readmodels.Recipient{AccountID: pt.Ann},
			[]string{"access_enabled@Acme", "access_disabled@Acme", "role_changed@Acme"}},
		{"a removed member is told so",
			readmodels.Recipient{AccountID: pt.Cat, Email: pt.CatEmail},
			[]string{"removed_from_property@Acme", "invitation_received@Acme"}},
		{"an invitee without an account sees its invitation by email",
			readmodels.Recipient{AccountID: "acc-new", Email: pt.DeeEmail},
			[]string{"invitation_received@Acme"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.rm.Notifications(ctx, tt.to, readmodels.NotificationFilter{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, kinds(got)); diff != "" {
				t.Errorf("notifications (-want +got):\n%s", diff)
			}
			if got.Unread != len(tt.want) {
				t.Errorf("unread = %d, want %d", got.Unread, len(tt.want))
			}
		})
	}
}

func TestNotificationReadMarkersSurviveARebuild(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pt.Script()...)
	ctx := context.Background()
	ann := readmodels.Recipient{AccountID: pt.Ann, Email: pt.AnnEmail}
	before, err := f.rm.Notifications(ctx, ann, readmodels.NotificationFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := f.rm.MarkNotificationsRead(ctx, ann, []string{before.Notifications[0].ID, before.Notifications[3].ID}, false); err != nil || n != 2 {
		t.Fatalf("MarkNotificationsRead = %d, %v; want 2", n, err)
	}
	if _, err := projections.Rebuild(ctx, f.pool, f.store, projections.Notifications(), projections.RebuildConfig{Log: zerolog.Nop()}); err != nil {
		t.Fatalf("Rebuild: %v", err)
	}
	after, err := f.rm.Notifications(ctx, ann, readmodels.NotificationFilter{})
	if err != nil {
		t.Fatal(err)
	}
	want := before
	want.Notifications[0].Read, want.Notifications[3].Read, want.Unread = true, true, before.Unread-2
	if diff := cmp.Diff(want, after, equalTimes); diff != "" {
		t.Errorf("after a rebuild (-want +got):\n%s", diff)
	}
}

func TestNotificationsPagesAndRefusesBadInput(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pt.Script()...)
	ctx := context.Background()
	ann := readmodels.Recipient{AccountID: pt.Ann, Email: pt.AnnEmail}
	all, _ := f.rm.Notifications(ctx, ann, readmodels.NotificationFilter{})
	var paged []readmodels.Notification
	cursor := ""
	for range 10 {
		p, err := f.rm.Notifications(ctx, ann, readmodels.NotificationFilter{Limit: 3, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		paged = append(paged, p.Notifications...)
		if cursor = p.NextCursor; cursor == "" {
			break
		}
	}
	if diff := cmp.Diff(all.Notifications, paged); diff != "" {
		t.Errorf("pages of 3 (-whole +paged):\n%s", diff)
	}
	_, err := f.rm.Notifications(ctx, ann, readmodels.NotificationFilter{Cursor: "bogus"})
	wantError(t, err, domain.KindInvalid, domain.CodeInvalidRequest, "bogus")
	_, err = f.rm.Notifications(ctx, ann, readmodels.NotificationFilter{Limit: 1000})
	wantError(t, err, domain.KindInvalid, domain.CodeInvalidRequest, "1000")
	_, err = f.rm.MarkNotificationsRead(ctx, ann, []string{"nope"}, false)
	wantError(t, err, domain.KindInvalid, domain.CodeInvalidRequest, "nope")
}
