package domain_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rosterhq/roster/domain"
)

// everyone's permissions: what every enabled member may do, in table order.
var everyone = []domain.Permission{
	domain.PermRespondToChats, domain.PermRespondToTickets,
	domain.PermAccessReporting, domain.PermAccessMessaging,
	domain.PermEditKnowledgeBase, domain.PermEditShortcuts,
	domain.PermViewMembers,
}

var adminOnly = []domain.Permission{
	domain.PermManageInvitations, domain.PermManageMembers, domain.PermAdministrateSettings,
}

func concat(lists ...[]domain.Permission) []domain.Permission {
	var out []domain.Permission
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// The permission table, role by role.
func TestPermissionTable(t *testing.T) {
	tests := []struct {
		name   string
		role   domain.Role
		owner  bool
		status domain.MemberStatus
		want   []domain.Permission
	}{
		{"owner has every permission", domain.RoleAdmin, true, domain.StatusEnabled,
			concat(everyone, adminOnly, []domain.Permission{domain.PermTransferOwnership})},
		{"admin has every permission but transfer", domain.RoleAdmin, false, domain.StatusEnabled,
			concat(everyone, adminOnly)},
		{"agent has only the everyday permissions", domain.RoleAgent, false, domain.StatusEnabled, everyone},
		{"disabled admin has none", domain.RoleAdmin, false, domain.StatusDisabled, []domain.Permission{}},
		{"disabled agent has none", domain.RoleAgent, false, domain.StatusDisabled, []domain.Permission{}},
		{"disabled owner has none", domain.RoleAdmin, true, domain.StatusDisabled, []domain.Permission{}},
		{"unknown role has none", domain.Role("guest"), false, domain.StatusEnabled, []domain.Permission{}},
		{"unknown status has none", domain.RoleAdmin, true, domain.MemberStatus("pending"), []domain.Permission{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := domain.Permissions(tt.role, tt.owner, tt.status)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Permissions mismatch (-want +got):\n%s", diff)
			}
			all := concat(everyone, adminOnly, []domain.Permission{domain.PermTransferOwnership})
			for _, perm := range all {
				want := false
				for _, g := range tt.want {
					want = want || g == perm
				}
				if got := domain.Allowed(tt.role, tt.owner, tt.status, perm); got != want {
					t.Errorf("Allowed(%s) = %v, want %v, as Permissions says", perm, got, want)
				}
			}
		})
	}
}

func TestTransferOwnershipIsTheOwnersAlone(t *testing.T) {
	tests := []struct {
		name   string
		role   domain.Role
		owner  bool
		status domain.MemberStatus
		want   bool
	}{
		{"owner may transfer", domain.RoleAdmin, true, domain.StatusEnabled, true},
		{"admin may not transfer", domain.RoleAdmin, false, domain.StatusEnabled, false},
		{"agent may not transfer", domain.RoleAgent, false, domain.StatusEnabled, false},
		{"disabled owner may not transfer", domain.RoleAdmin, true, domain.StatusDisabled, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := domain.Allowed(tt.role, tt.owner, tt.status, domain.PermTransferOwnership); got != tt.want {
				t.Errorf("Allowed = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestUnknownPermissionIsNeverAllowed(t *testing.T) {
	if domain.Allowed(domain.RoleAdmin, true, domain.StatusEnabled, domain.Permission("launch_rockets")) {
		t.Error("an unknown permission was allowed to the owner")
	}
}

func TestPermissionsReturnsAFreshSlice(t *testing.T) {
	first := domain.Permissions(domain.RoleAgent, false, domain.StatusEnabled)
	first[0] = domain.PermTransferOwnership
	if again := domain.Permissions(domain.RoleAgent, false, domain.StatusEnabled); again[0] != domain.PermRespondToChats {
		t.Errorf("changing one result changed the next: %v", again)
	}
}

func TestParseRole(t *testing.T) {
	tests := []struct {
		name, in string
		want     domain.Role
		bad      bool
	}{
		{name: "admin is a role", in: "admin", want: domain.RoleAdmin},
		{name: "agent is a role", in: "agent", want: domain.RoleAgent},
		{name: "roles are case-insensitive", in: "AdMiN", want: domain.RoleAdmin},
		{name: "spaces around a role are ignored", in: " agent\t", want: domain.RoleAgent},
		{name: "owner is not a role", in: "owner", bad: true},
		{name: "empty is not a role", in: "", bad: true},
		{name: "an unknown word is not a role", in: "superadmin", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := domain.ParseRole(tt.in)
			if tt.bad {
				if domain.KindOf(err) != domain.KindInvalid || domain.CodeOf(err) != domain.CodeInvalidRole {
					t.Fatalf("ParseRole(%q) = %q, %v; want invalid/invalid_role", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ParseRole(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}
