package projections_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rosterhq/roster/projections"
	pt "github.com/rosterhq/roster/projections/projectiontest"
)

func TestNotificationIDDependsOnlyOnTheEventAndTheRecipient(t *testing.T) {
	const ev = "5f0e4a52-8a63-4b43-9a51-7f3c0a2b1d9e"
	id := projections.NotificationID(ev, "acc-ann")
	tests := []struct {
		name      string
		other     string
		wantEqual bool
	}{
		{"the same event and recipient give the same ID, as in a rebuild", projections.NotificationID(ev, "acc-ann"), true},
		{"another recipient of the same event gets another ID", projections.NotificationID(ev, "acc-cat"), false},
		{"another event gets another ID", projections.NotificationID("0d6c7a9e-1b2f-4c3d-8e4f-5a6b7c8d9e0f", "acc-ann"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if (tt.other == id) != tt.wantEqual {
				t.Errorf("NotificationID = %s and %s, want equal: %t", id, tt.other, tt.wantEqual)
			}
		})
	}
}

type notificationRow struct {
	Recipient, Property, Kind, Details string
}

func TestNotificationsProjection(t *testing.T) {
	t.Parallel()
	pool := project(t, pt.Script())
	got := rows[notificationRow](t, pool, `SELECT coalesce(account_id, email), property_name, kind, details::text
		FROM rm_notifications WHERE property_id = 'p-acme' AND kind <> 'invitation_received' ORDER BY created_at`)
	want := []notificationRow{
		{pt.Ann, "Acme", "role_changed", `{"to": "admin", "from": "agent"}`},
		{pt.Ann, "Acme", "access_disabled", `{}`},
		{pt.Ann, "Acme", "access_enabled", `{}`},
		{pt.Cat, "Acme", "removed_from_property", `{}`},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rm_notifications (-want +got):\n%s", diff)
	}
	var invites []string
	for _, r := range rows[notificationRow](t, pool, `SELECT coalesce(account_id, ''), property_name, kind, email
		FROM rm_notifications WHERE kind = 'invitation_received' AND property_id = 'p-acme' ORDER BY created_at`) {
		if r.Recipient != "" {
			t.Errorf("invitation to %s is addressed to account %s, want the email only", r.Details, r.Recipient)
		}
		invites = append(invites, r.Details)
	}
	if diff := cmp.Diff([]string{pt.AnnEmail, pt.BobEmail, pt.CatEmail, pt.DeeEmail, pt.FayEmail}, invites); diff != "" {
		t.Errorf("invitations by email (-want +got):\n%s", diff)
	}
}
