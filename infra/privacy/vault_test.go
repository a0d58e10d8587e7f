package privacy

import (
	"bytes"
	"context"
	"encoding/base64"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/pgtest"
)

// TestSealThenOpenGivesBackEveryPersonalField: each personal field is
// stored sealed, every other field and the chain's stay as they were, and
// Open gives back exactly what was sealed.
func TestSealThenOpenGivesBackEveryPersonalField(t *testing.T) {
	v := NewVault(pgtest.NewPool(t))
	noEmail := actor{id: "acc-noemail", ip: "198.51.100.1", ua: "Roster-CLI/1"}
	oddEmail := actor{id: "acc-odd", email: "Not An Email", ip: "198.51.100.2", ua: "odd/1"}
	tests := []struct {
		name     string
		event    eventstore.EventData
		data     []string // personal payload fields
		meta     []string // personal metadata fields
		metaFrom string   // the subject key the metadata is sealed under
	}{
		{"an invitee's email", event(t, invited("cat@example.com"), ann), []string{"email"},
			[]string{"actor_email", "client_ip", "user_agent"}, emailKey(ann.email)},
		{"a joining member's email", event(t, joined("acc-dee", "dee@example.com"), bob), []string{"email"},
			[]string{"actor_email", "client_ip", "user_agent"}, emailKey(bob.email)},
		{"an event without personal payload still seals its actor", event(t, domain.MemberLeft{Schema: 1, AccountID: "acc-ann"}, ann), nil,
			[]string{"actor_email", "client_ip", "user_agent"}, emailKey(ann.email)},
		{"an actor without an email is keyed by its account", event(t, domain.MemberLeft{Schema: 1, AccountID: "acc-x"}, noEmail), nil,
			[]string{"client_ip", "user_agent"}, accountKey(noEmail.id)},
		{"an actor whose email is no address is keyed by its account", event(t, domain.MemberLeft{Schema: 1, AccountID: "acc-y"}, oddEmail), nil,
			[]string{"actor_email", "client_ip", "user_agent"}, accountKey(oddEmail.id)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := tt.event
			events := []eventstore.EventData{orig}
			if err := v.Seal(context.Background(), events); err != nil {
				t.Fatal(err)
			}
			sealed := events[0]
			check := func(what string, before, after []byte, personal []string) {
				b, a := fieldsOf(t, before), fieldsOf(t, after)
				for k, want := range b {
					got := a[k]
					if !slices.Contains(personal, k) {
						if diff := cmp.Diff(want, got); diff != "" {
							t.Errorf("%s field %s changed (-want +got):\n%s", what, k, diff)
						}
						continue
					}
					s, _ := got.(string)
					if !strings.HasPrefix(s, sealedPrefix) || strings.Contains(string(after), want.(string)) {
						t.Errorf("%s field %s is stored as %q, want it sealed and its plaintext nowhere", what, k, s)
					}
				}
			}
			check("payload", orig.Data, sealed.Data, tt.data)
			check("metadata", orig.Metadata, sealed.Metadata, tt.meta)
			if !bytes.HasSuffix(sealed.Metadata, []byte(chainTail)) {
				t.Errorf("the chain's fields are not last as they were: %s", sealed.Metadata)
			}
			if s := field(t, sealed.Metadata, tt.meta[0]); subjectOf(t, s) != v.cache[tt.metaFrom].id {
				t.Errorf("metadata sealed for subject %s, want the one of %s", subjectOf(t, s), tt.metaFrom)
			}

			recs := recorded(sealed)
			if err := v.Open(context.Background(), recs); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(fieldsOf(t, orig.Data), fieldsOf(t, recs[0].Data)); diff != "" {
				t.Errorf("opened payload (-sealed +opened):\n%s", diff)
			}
			if diff := cmp.Diff(fieldsOf(t, orig.Metadata), fieldsOf(t, recs[0].Metadata)); diff != "" {
				t.Errorf("opened metadata (-sealed +opened):\n%s", diff)
			}
			if !bytes.HasSuffix(recs[0].Metadata, []byte(chainTail)) {
				t.Errorf("Open moved the chain's fields: %s", recs[0].Metadata)
			}
		})
	}
}

// TestOpenPassesPlainValuesThrough: events written before sealing existed
// are read as they are, byte for byte, and so are events of types without
// personal fields.
func TestOpenPassesPlainValuesThrough(t *testing.T) {
	v := NewVault(pgtest.NewPool(t))
	legacy := []eventstore.EventData{
		event(t, invited("cat@example.com"), ann),
		event(t, joined("acc-cat", "cat@example.com"), actor{id: "acc-cat", email: "cat@example.com"}),
		event(t, domain.PropertyCreated{Schema: 1, PropertyID: "p1", Name: "pii1:looks sealed", OwnerID: "acc-ann"}, ann),
		{ID: uuid.NewString(), Type: domain.TypeMemberRemoved, Data: []byte(`{"schema":1,"account_id":"a"}`)},
	}
	recs := recorded(legacy...)
	if err := v.Open(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	for i, rec := range recs {
		if !bytes.Equal(rec.Data, legacy[i].Data) || !bytes.Equal(rec.Metadata, legacy[i].Metadata) {
			t.Errorf("event %d changed:\n%s %s\nwant\n%s %s", i, rec.Data, rec.Metadata, legacy[i].Data, legacy[i].Metadata)
		}
	}
}

// TestOpenRefusesAlteredOrMalformedValues: a sealed value that was changed,
// moved to another field or person, or does not parse fails Open with the
// event's ID, and leaves the events as they were.
func TestOpenRefusesAlteredOrMalformedValues(t *testing.T) {
	ctx := context.Background()
	v := NewVault(pgtest.NewPool(t))
	events := []eventstore.EventData{event(t, invited("cat@example.com"), ann), event(t, invited("dee@example.com"), bob)}
	if err := v.Seal(ctx, events); err != nil {
		t.Fatal(err)
	}
	annEmail := field(t, events[0].Metadata, "actor_email")
	bobEmail := field(t, events[1].Metadata, "actor_email")
	replace := func(doc []byte, old, new string) []byte {
		return bytes.Replace(doc, []byte(old), []byte(new), 1)
	}
	flip := func(s string) string {
		_, body, _ := strings.Cut(strings.TrimPrefix(s, sealedPrefix), ":")
		ct, _ := base64.RawURLEncoding.DecodeString(body)
		ct[len(ct)-1] ^= 1
		return s[:len(s)-len(body)] + base64.RawURLEncoding.EncodeToString(ct)
	}
	unknown := sealedPrefix + hexID(uuid.New()) + annEmail[len(sealedPrefix)+32:]
	tests := []struct {
		name string
		meta []byte
		want string
	}{
		{"a flipped bit", replace(events[0].Metadata, annEmail, flip(annEmail)), "does not decrypt"},
		{"a value moved to another field", replace(events[0].Metadata, field(t, events[0].Metadata, "user_agent"), annEmail), "does not decrypt"},
		{"a value moved to another person", replace(events[0].Metadata, annEmail, sealedPrefix+subjectHex(t, bobEmail)+annEmail[len(sealedPrefix)+32:]), "does not decrypt"},
		{"a subject the vault does not know", replace(events[0].Metadata, annEmail, unknown), "does not know"},
		{"a value that starts sealed and does not parse", replace(events[0].Metadata, annEmail, "pii1:nope"), "malformed"},
		{"metadata that is not a JSON object", []byte(`["pii1:x"]`), "not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs := recorded(events...)
			recs[0].Metadata = tt.meta
			before := recorded(events...)
			before[0].Metadata = tt.meta
			err := v.Open(ctx, recs)
			if err == nil || !strings.Contains(err.Error(), recs[0].ID) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Open = %v, want an error naming event %s and saying %q", err, recs[0].ID, tt.want)
			}
			if diff := cmp.Diff(before, recs); diff != "" {
				t.Errorf("a failed Open changed the events (-before +after):\n%s", diff)
			}
		})
	}
}

func subjectHex(t *testing.T, sealed string) string { return hexID(subjectOf(t, sealed)) }

// TestForgetErasesOnePersonOnly: after Ann is forgotten, every value sealed
// for her opens as a marker, unique to her, and Bob's open as before.
func TestForgetErasesOnePersonOnly(t *testing.T) {
	ctx := context.Background()
	v := NewVault(pgtest.NewPool(t))
	events := []eventstore.EventData{
		event(t, invited(bob.email), ann),          // Ann invites Bob
		event(t, invited(ann.email), bob),          // Bob invites Ann
		event(t, joined(ann.id, ann.email), ann),   // Ann joins
		event(t, invited("cat@example.com"), bob),  // neither
		event(t, invited("ANN@example.com "), bob), // Ann again, spelled otherwise
	}
	if err := v.Seal(ctx, events); err != nil {
		t.Fatal(err)
	}
	annSubject := subjectOf(t, field(t, events[1].Data, "email"))

	f, err := v.Forget(ctx, " Ann@Example.COM")
	if err != nil {
		t.Fatal(err)
	}
	want := Forgotten{Email: ann.email, Erased: true, Marker: ErasedEmail(annSubject),
		Subjects: []string{annSubject.String()}, Scrubbed: map[string]int64{}}
	if diff := cmp.Diff(want, f); diff != "" {
		t.Errorf("Forgotten (-want +got):\n%s", diff)
	}

	recs := recorded(events...)
	if err := v.Open(ctx, recs); err != nil {
		t.Fatal(err)
	}
	marker := ErasedEmail(annSubject)
	checks := []struct {
		name      string
		doc       []byte
		key, want string
	}{
		{"Ann as actor: email", recs[0].Metadata, "actor_email", marker},
		{"Ann as actor: IP", recs[0].Metadata, "client_ip", ErasedIP},
		{"Ann as actor: user agent", recs[0].Metadata, "user_agent", ErasedUserAgent},
		{"Bob as invitee", recs[0].Data, "email", bob.email},
		{"Ann as invitee", recs[1].Data, "email", marker},
		{"Bob as actor: email", recs[1].Metadata, "actor_email", bob.email},
		{"Bob as actor: IP", recs[1].Metadata, "client_ip", bob.ip},
		{"Bob as actor: user agent", recs[1].Metadata, "user_agent", bob.ua},
		{"Ann as member", recs[2].Data, "email", marker},
		{"someone else", recs[3].Data, "email", "cat@example.com"},
		{"Ann spelled otherwise", recs[4].Data, "email", marker},
	}
	for _, c := range checks {
		if got := field(t, c.doc, c.key); got != c.want {
			t.Errorf("%s: %s opens as %q, want %q", c.name, c.key, got, c.want)
		}
	}
	// The erased event still decodes: a rebuild can replay it.
	if _, err := domain.DecodeEvent(recs[1].Type, recs[1].Data); err != nil {
		t.Errorf("an erased event no longer decodes: %v", err)
	}
}

// TestForgetIsIdempotent: forgetting again destroys nothing, says so, and
// changes nothing Open gives.
func TestForgetIsIdempotent(t *testing.T) {
	ctx := context.Background()
	v := NewVault(pgtest.NewPool(t))
	events := []eventstore.EventData{event(t, invited(ann.email), bob)}
	if err := v.Seal(ctx, events); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Forget(ctx, ann.email); err != nil {
		t.Fatal(err)
	}
	first := recorded(events...)
	if err := v.Open(ctx, first); err != nil {
		t.Fatal(err)
	}
	for _, email := range []string{ann.email, "never@example.com"} {
		f, err := v.Forget(ctx, email)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(Forgotten{Email: email, Subjects: []string{}, Scrubbed: map[string]int64{}}, f); diff != "" {
			t.Errorf("Forget(%s) with no key (-want +got):\n%s", email, diff)
		}
	}
	again := recorded(events...)
	if err := v.Open(ctx, again); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(first, again); diff != "" {
		t.Errorf("a second forget changed what Open gives (-first +second):\n%s", diff)
	}
}

// TestSealAfterForgetMakesANewSubject: a person invited again after being
// forgotten is a new subject; the old events stay erased.
func TestSealAfterForgetMakesANewSubject(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	v := NewVault(pool)
	old := []eventstore.EventData{event(t, invited(ann.email), bob)}
	if err := v.Seal(ctx, old); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Forget(ctx, ann.email); err != nil {
		t.Fatal(err)
	}
	fresh := []eventstore.EventData{event(t, invited(ann.email), bob)}
	if err := v.Seal(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	was, now := subjectOf(t, field(t, old[0].Data, "email")), subjectOf(t, field(t, fresh[0].Data, "email"))
	if was == now {
		t.Fatalf("the email was sealed again for the erased subject %s", was)
	}
	recs := recorded(old[0], fresh[0])
	if err := v.Open(ctx, recs); err != nil {
		t.Fatal(err)
	}
	if got := field(t, recs[0].Data, "email"); got != ErasedEmail(was) {
		t.Errorf("the old event opens as %q, want %q", got, ErasedEmail(was))
	}
	if got := field(t, recs[1].Data, "email"); got != ann.email {
		t.Errorf("the new event opens as %q, want %q", got, ann.email)
	}
	var live, erased int
	if err := pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE erased_at IS NULL), count(*) FILTER (WHERE erased_at IS NOT NULL)
		FROM privacy_subjects WHERE subject_id = ANY($1::uuid[])`, []uuid.UUID{was, now}).Scan(&live, &erased); err != nil {
		t.Fatal(err)
	}
	if live != 1 || erased != 1 {
		t.Errorf("%d live and %d erased subjects, want one of each: erased rows stay", live, erased)
	}
}

// TestConcurrentSealOfANewEmailMakesOneSubject: many writers, in several
// processes (vaults) at once, meeting a new email agree on one subject.
func TestConcurrentSealOfANewEmailMakesOneSubject(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	vaults := []*Vault{NewVault(pool), NewVault(pool), NewVault(pool), NewVault(pool)}
	const writers = 32
	subjects := make([]uuid.UUID, writers)
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			events := []eventstore.EventData{event(t, invited("new@example.com"), actor{id: "acc-new", email: "new@example.com"})}
			if errs[i] = vaults[i%len(vaults)].Seal(ctx, events); errs[i] == nil {
				subjects[i] = subjectOf(t, field(t, events[0].Data, "email"))
			}
		})
	}
	wg.Wait()
	for i := range writers {
		if errs[i] != nil {
			t.Fatalf("writer %d: %v", i, errs[i])
		}
		if subjects[i] != subjects[0] {
			t.Errorf("writer %d sealed for subject %s, writer 0 for %s", i, subjects[i], subjects[0])
		}
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM privacy_subjects`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("%d subjects, want 1", n)
	}
}

// TestBadInputIsRefused: what Seal and Forget cannot work with is an error
// that says why, and nothing is half done.
func TestBadInputIsRefused(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	v := NewVault(pool)
	t.Run("Forget", func(t *testing.T) {
		for _, email := range []string{"", "   ", "not an email", "Ann <ann@example.com>", "ann@localhost", "a@b@example.com"} {
			_, err := v.Forget(ctx, email)
			if domain.KindOf(err) != domain.KindInvalid || domain.CodeOf(err) != domain.CodeInvalidEmail {
				t.Errorf("Forget(%q) = %v, want invalid_email", email, err)
			}
		}
	})
	good := event(t, invited(ann.email), bob)
	tests := []struct {
		name  string
		event eventstore.EventData
		want  string
	}{
		{"a payload email that is not an address", event(t, invited("not an email"), bob), "email"},
		{"a payload that is not a JSON object", eventstore.EventData{ID: "e1", Type: domain.TypeMemberInvited, Data: []byte(`[1]`), Metadata: good.Metadata}, "not a JSON object"},
		{"metadata that is not JSON", eventstore.EventData{ID: "e2", Type: domain.TypeMemberInvited, Data: good.Data, Metadata: []byte(`{"actor_email":`)}, "metadata"},
		{"personal metadata without an actor", event(t, invited(ann.email), actor{ip: "203.0.113.9"}), "actor"},
	}
	for _, tt := range tests {
		t.Run("Seal: "+tt.name, func(t *testing.T) {
			before := tt.event
			events := []eventstore.EventData{good, tt.event}
			err := v.Seal(ctx, events)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.event.ID) {
				t.Fatalf("Seal = %v, want an error naming event %s and %q", err, tt.event.ID, tt.want)
			}
			if diff := cmp.Diff([]eventstore.EventData{good, before}, events); diff != "" {
				t.Errorf("a failed Seal changed the events (-before +after):\n%s", diff)
			}
		})
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM privacy_subjects`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("failed Seals left %d subjects, want none", n)
	}
}

// TestForgetFlushesItsOwnCache: the process that forgets seals the next
// event of the same person under a new key at once.
func TestForgetFlushesItsOwnCache(t *testing.T) {
	ctx := context.Background()
	v := NewVault(pgtest.NewPool(t))
	first := []eventstore.EventData{event(t, invited(ann.email), bob)}
	if err := v.Seal(ctx, first); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Forget(ctx, ann.email); err != nil {
		t.Fatal(err)
	}
	second := []eventstore.EventData{event(t, invited(ann.email), bob)}
	if err := v.Seal(ctx, second); err != nil {
		t.Fatal(err)
	}
	recs := recorded(second...)
	if err := v.Open(ctx, recs); err != nil {
		t.Fatal(err)
	}
	if got := field(t, recs[0].Data, "email"); got != ann.email {
		t.Errorf("an invitation sealed after the forget opens as %q, want %q", got, ann.email)
	}
}

// TestPrepareMakesTheKeysAheadOfSeal: the actor's and the valid invitees'
// subjects exist after Prepare, an invalid address is skipped, and a second
// vault's Seal finds the same subjects rather than making others.
func TestPrepareMakesTheKeysAheadOfSeal(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	v := NewVault(pool)
	actor := domain.Actor{AccountID: "acc-owner", Email: "Owner@Example.com"}
	if err := v.Prepare(ctx, actor, []string{"ann@example.com", "not an address", " BOB@example.com "}); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	var emails []string
	rows, err := pool.Query(ctx, `SELECT email FROM privacy_subjects ORDER BY email`)
	if err != nil {
		t.Fatal(err)
	}
	emails, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"ann@example.com", "bob@example.com", "owner@example.com"}; !slices.Equal(emails, want) {
		t.Errorf("subjects after Prepare: %v, want %v", emails, want)
	}
	if err := v.Prepare(ctx, domain.Actor{}, nil); err != nil {
		t.Errorf("Prepare of nobody: %v", err)
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM privacy_subjects`).Scan(&n); err != nil || n != 3 {
		t.Errorf("%d subjects (%v) after preparing nobody, want still 3", n, err)
	}
}
