package domain_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/rosterhq/roster/domain"
)

func TestParsePermissionTakesTheTablesNamesOnly(t *testing.T) {
	for _, p := range domain.Permissions(domain.RoleAdmin, true, domain.StatusEnabled) {
		if got, err := domain.ParsePermission(string(p)); err != nil || got != p {
			t.Errorf("ParsePermission(%q) = %q, %v", p, got, err)
		}
	}
	for _, bad := range []string{"", "Respond_To_Chats", "respond_to_chats ", "fly"} {
		_, err := domain.ParsePermission(bad)
		if domain.KindOf(err) != domain.KindMalformed || domain.CodeOf(err) != domain.CodeUnknownPermission ||
			!strings.Contains(err.Error(), strconv.Quote(bad)) {
			t.Errorf("ParsePermission(%q) = %v, want unknown_permission naming it", bad, err)
		}
	}
}
