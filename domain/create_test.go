package domain_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/rosterhq/roster/domain"
)

func createdNamed(name string) []domain.Event {
	return []domain.Event{
		domain.PropertyCreated{Schema: domain.SchemaV1, PropertyID: pid, Name: name, OwnerID: owner.AccountID},
		joined(owner, domain.RoleAdmin),
	}
}

// Create: the name is trimmed and checked, and the creator becomes the owner
// and first admin member.
func TestCreate(t *testing.T) {
	hundred := strings.Repeat("é", 100)
	run(t, []spec{
		{name: "creator becomes owner and joins as admin", when: create(owner, "Shop"), then: createdNamed("Shop")},
		{name: "name is trimmed", when: create(owner, "  Shop \t"), then: createdNamed("Shop")},
		{name: "inner spaces of a name are kept", when: create(owner, "My  Shop"), then: createdNamed("My  Shop")},
		{name: "a name of 100 characters is allowed", when: create(owner, hundred), then: createdNamed(hundred)},
		{name: "empty name is refused", when: create(owner, ""),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeInvalidName}},
		{name: "blank name is refused", when: create(owner, " \t\n "),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeInvalidName}},
		{name: "a name of 101 characters is refused", when: create(owner, hundred+"x"),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeInvalidName, says: "longer than 100"}},
		{name: "a name with a NUL is refused", when: create(owner, "Sh\x00op"),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeInvalidName, says: "control characters"}},
		{name: "a name with a newline inside is refused", when: create(owner, "Sh\nop"),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeInvalidName}},
		{name: "a name with an escape character is refused", when: create(owner, "Shop\x1b[31m"),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeInvalidName}},
		{name: "a property that exists cannot be created again", given: created(), when: create(owner, "Shop"),
			fails: failure{kind: domain.KindConflict, code: domain.CodePropertyExists, says: pid}},
		{name: "a property that exists is refused before its name is checked", given: created(), when: create(admin, ""),
			fails: failure{kind: domain.KindConflict, code: domain.CodePropertyExists}},
	})
}

func TestCreatedPropertyState(t *testing.T) {
	p := domain.NewProperty(pid)
	if p.Exists() {
		t.Fatal("a property without events exists")
	}
	got, err := p.Create(owner, " Shop ")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range got {
		p.Apply(e, t0)
	}
	if !p.Exists() || p.Name != "Shop" || p.OwnerID != owner.AccountID || p.Version != 2 {
		t.Errorf("property = %+v, want Shop owned by %s at version 2", p, owner.AccountID)
	}
	m := p.Members[owner.AccountID]
	if m == nil || m.Role != domain.RoleAdmin || m.Status != domain.StatusEnabled || m.Email != owner.Email {
		t.Errorf("owner member = %+v, want an enabled admin with %s", m, owner.Email)
	}
	perms := domain.Permissions(m.Role, p.OwnerID == m.AccountID, m.Status)
	if perms[len(perms)-1] != domain.PermTransferOwnership {
		t.Errorf("creator's permissions %v lack transfer_ownership", perms)
	}
}

// Error messages are shown to callers and serialised to JSON, so quoting a
// long value must not cut a multi-byte character in half.
func TestErrorMessagesStayValidUTF8(t *testing.T) {
	tests := []struct {
		name string
		err  func() error
	}{
		{"long name in a script of 3-byte characters", func() error {
			_, err := domain.NewProperty(pid).Create(owner, strings.Repeat("界", 101))
			return err
		}},
		{"long email with accented characters", func() error {
			_, err := domain.NormalizeEmail("x" + strings.Repeat("é", 130) + "@example.com")
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.err()
			if err == nil {
				t.Fatal("want an error")
			}
			if !utf8.ValidString(err.Error()) {
				t.Errorf("message is not valid UTF-8: %q", err.Error())
			}
		})
	}
}
