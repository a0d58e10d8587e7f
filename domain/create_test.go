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
			fails: failure{kind: domain.KindInvalid, code: domain.CodeInvalidName, says: "NUL (U+0000) at character 3"}},
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

// A property's name is stored as sent and shown to every member: one that is
// not UTF-8 would be stored as U+FFFD silently, one that shows nothing or
// reads in another order than it is stored misleads whoever reads it. The
// refusal names the first offending character by its position, counted in
// characters from 1 in the name as sent.
func TestCreate_NamesMustShowWhatTheyHold(t *testing.T) {
	refused := []struct{ name, raw, says string }{
		{"a byte that is not UTF-8", "Sh\xffop", "byte that is not UTF-8 (0xFF) at character 3"},
		{"a truncated UTF-8 sequence", "Caf\xc3", "not UTF-8 (0xC3) at character 4"},
		{"an encoded surrogate", "Shop \xed\xa0\x80", "at character 6"},
		{"invalid UTF-8 after leading spaces, counted in the name as sent", "  \xfe", "at character 3"},
		{"only a zero-width space", "\u200b", "no visible character: character 1 is U+200B"},
		{"only zero-width characters", "\u200b\u200c\u200d\u2060\ufeff", "no visible character"},
		{"only zero-width characters between spaces", "  \u200b\u200b  ", "no visible character: character 3 is U+200B"},
		{"only a Hangul filler, which renders blank", "\u3164", "no visible character"},
		{"only a combining mark", "\u0301", "no visible character"},
		{"only a variation selector", "\ufe0f", "no visible character"},
		{"a right-to-left override", "Shop\u202egnp.exe", "bidirectional control (U+202E) at character 5"},
		{"a left-to-right override", "\u202dShop", "U+202D) at character 1"},
		{"a right-to-left embedding", "Shop\u202b", "U+202B) at character 5"},
		{"a pop directional formatting", "Sh\u202cop", "U+202C) at character 3"},
		{"a right-to-left isolate", "Shop \u2067x", "U+2067) at character 6"},
		{"a first strong isolate", "\u2068Shop", "U+2068) at character 1"},
		{"a pop directional isolate", "Shop\u2069", "U+2069) at character 5"},
		{"a C1 control", "Sh\u0085op", "control character (U+0085) at character 3"},
	}
	var specs []spec
	for _, r := range refused {
		specs = append(specs, spec{name: "a name with " + r.name + " is refused", when: create(owner, r.raw),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeInvalidName, says: r.says}})
	}
	for _, ok := range []struct{ name, raw string }{
		{"an emoji joined by a zero-width joiner", "\U0001F469\u200d\U0001F4BB Support"},
		{"Persian with a zero-width non-joiner", "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"},
		{"Hebrew, right to left without controls", "\u05e9\u05dc\u05d5\u05dd"},
		{"a decomposed accent", "Cafe\u0301"},
		{"a left-to-right mark, which reorders nothing", "\u05e9\u05dc\u05d5\u05dd 24\u200e"},
	} {
		specs = append(specs, spec{name: "a name with " + ok.name + " is kept", when: create(owner, ok.raw), then: createdNamed(ok.raw)})
	}
	run(t, specs)
}
