package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/config"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/postgres"
	"github.com/rosterhq/roster/infra/pgtest"
	"github.com/rosterhq/roster/infra/privacy"
	pt "github.com/rosterhq/roster/projections/projectiontest"
	"github.com/rosterhq/roster/readmodels"
)

// TestPropertyShowCommand runs `roster property show` against the standard
// script in the PostgreSQL event store, at moments of it and now.
func TestPropertyShowCommand(t *testing.T) {
	if e2eStore != config.EventStorePostgres {
		// It writes its own events to PostgreSQL, so the other passes
		// would only repeat it.
		t.Skipf("runs in the postgres pass only; this pass is %s", e2eStore)
	}
	t.Parallel()
	pgURL := pgtest.NewDatabase(t)
	pool, err := pgxpool.New(context.Background(), pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	pt.NewHistory(t, postgres.New(pool)).Add(pt.Script()...)
	env := map[string]string{"ROSTER_PG_URL": pgURL, "ROSTER_EVENT_STORE": "postgres"}
	member := func(acc, email string, role domain.Role, owner bool, joined, updated int) readmodels.Member {
		return readmodels.Member{AccountID: acc, Email: email, Role: role, Status: domain.StatusEnabled, Owner: owner,
			JoinedAt: pt.At(joined), UpdatedAt: pt.At(updated)}
	}
	show := func(t *testing.T, args ...string) readmodels.Snapshot {
		t.Helper()
		res := roster(env, append([]string{"property", "show"}, args...)...)
		if res.code != 0 {
			t.Fatalf("exit %d: %s", res.code, res.stderr)
		}
		var snap readmodels.Snapshot
		if err := json.Unmarshal([]byte(res.stdout), &snap); err != nil {
			t.Fatalf("-json printed %q: %v", res.stdout, err)
		}
		return snap
	}

	t.Run("-json at a moment prints the property and its members then", func(t *testing.T) {
		got := show(t, pt.Acme, "--as-of", "2026-03-02T09:12:00Z", "-json")
		want := readmodels.Snapshot{AsOf: pt.At(12),
			Property: readmodels.Property{ID: pt.Acme, Name: "Acme", OwnerID: pt.Owner, Revision: 12, MemberCount: 3,
				PendingInvitationCount: 0, CreatedAt: pt.At(0), UpdatedAt: pt.At(12)},
			Members: []readmodels.Member{
				member(pt.Ann, pt.AnnEmail, domain.RoleAdmin, false, 5, 9),
				member(pt.Cat, pt.CatEmail, domain.RoleAgent, false, 12, 12),
				member(pt.Owner, pt.OwnerEmail, domain.RoleAdmin, true, 1, 1)}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("snapshot (-want +got):\n%s", diff)
		}
	})
	t.Run("without -as-of it is now: the end of the script", func(t *testing.T) {
		got := show(t, "-json", pt.Acme)
		if got.Property.Revision != 20 || got.Property.OwnerID != pt.Ann || len(got.Members) != 2 || !got.AsOf.After(pt.At(20)) {
			t.Errorf("snapshot %+v, want revision 20 owned by Ann with two members, as of after the last event", got)
		}
	})
	t.Run("the table names the property and lists the members", func(t *testing.T) {
		res := roster(env, "property", "show", "-as-of=2026-03-02T09:14:00Z", pt.Acme)
		if res.code != 0 {
			t.Fatalf("exit %d: %s", res.code, res.stderr)
		}
		var lines [][]string
		for _, l := range strings.Split(strings.TrimSpace(res.stdout), "\n") {
			lines = append(lines, strings.Fields(l))
		}
		want := [][]string{
			{"property", pt.Acme}, {"name", "Acme"}, {"owner", pt.Ann}, {"revision", "14"},
			{"as", "of", "2026-03-02T09:14:00Z"}, {"created", "2026-03-02T09:00:00Z"}, {"members", "2"},
			{"pending", "invitations", "0"}, {},
			{"ACCOUNT", "EMAIL", "ROLE", "STATUS", "OWNER", "JOINED", "UPDATED"},
			{pt.Ann, pt.AnnEmail, "admin", "enabled", "yes", "2026-03-02T09:05:00Z", "2026-03-02T09:14:00Z"},
			{pt.Owner, pt.OwnerEmail, "admin", "enabled", "no", "2026-03-02T09:01:00Z", "2026-03-02T09:14:00Z"},
		}
		if diff := cmp.Diff(want, lines); diff != "" {
			t.Errorf("table (-want +got):\n%s", diff)
		}
	})

	refusals := []struct {
		name     string
		env      map[string]string
		args     []string
		code     int
		inStderr string
	}{
		{"no ID is a usage error", env, []string{"property", "show", "-json"}, 2, "usage: roster property show"},
		{"two IDs are a usage error", env, []string{"property", "show", pt.Acme, pt.Beta}, 2, "unexpected arguments"},
		{"an unreadable -as-of is a usage error naming it", env, []string{"property", "show", pt.Acme, "-as-of", "yesterday"}, 2,
			`-as-of "yesterday" is not an RFC 3339 time`},
		{"a moment in the future is refused", env, []string{"property", "show", pt.Acme, "-as-of", "2999-01-01T00:00:00Z"}, 1,
			"is in the future"},
		{"a moment before the property is refused", env, []string{"property", "show", pt.Acme, "-as-of", "2026-03-02T08:59:59Z"}, 1,
			"property p-acme did not exist at 2026-03-02T08:59:59Z"},
		{"an unknown property is refused", env, []string{"property", "show", "p-none"}, 1, "property p-none did not exist"},
		{"the memory event store cannot be read from another process",
			map[string]string{"ROSTER_PG_URL": pgURL, "ROSTER_EVENT_STORE": "memory"}, []string{"property", "show", pt.Acme}, 1,
			"memory cannot be read from another process"},
		{"an unknown subcommand is a usage error", env, []string{"property", "list"}, 2, `unknown command "list"`},
		{"no subcommand is a usage error", env, []string{"property"}, 2, "usage: roster property"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			res := roster(tt.env, tt.args...)
			if res.code != tt.code || !strings.Contains(res.stderr, tt.inStderr) || res.stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, nothing printed and %q", res.code, res.stdout, res.stderr, tt.code, tt.inStderr)
			}
		})
	}
}

// sealingStore seals personal fields through the vault before it appends,
// as the App's command side does.
type sealingStore struct {
	*postgres.Store
	vault *privacy.Vault
}

func (s sealingStore) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events []eventstore.EventData) (eventstore.AppendResult, error) {
	if err := s.vault.Seal(ctx, events); err != nil {
		return eventstore.AppendResult{}, err
	}
	return s.Store.Append(ctx, stream, expected, events)
}

// TestPropertyShowOpensSealedEmails: emails sealed in the stored events are
// shown in plaintext, and as the erased marker once their person is
// forgotten.
func TestPropertyShowOpensSealedEmails(t *testing.T) {
	if e2eStore != config.EventStorePostgres {
		t.Skipf("runs in the postgres pass only; this pass is %s", e2eStore)
	}
	t.Parallel()
	pgURL := pgtest.NewDatabase(t)
	pool, err := pgxpool.New(context.Background(), pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	vault := privacy.NewVault(pool)
	pt.NewHistory(t, sealingStore{Store: postgres.New(pool), vault: vault}).Add(pt.Script()[:6]...)
	var stored []byte
	if err := pool.QueryRow(context.Background(), `SELECT data FROM events WHERE type = 'MemberJoined' LIMIT 1`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(stored), "@example.com") {
		t.Fatalf("the stored event holds an email in plaintext, so this test proves nothing: %s", stored)
	}
	env := map[string]string{"ROSTER_PG_URL": pgURL, "ROSTER_EVENT_STORE": "postgres"}
	emails := func(t *testing.T) []string {
		t.Helper()
		res := roster(env, "property", "show", pt.Acme, "-as-of", "2026-03-02T09:05:00Z", "-json")
		var snap readmodels.Snapshot
		if err := json.Unmarshal([]byte(res.stdout), &snap); res.code != 0 || err != nil {
			t.Fatalf("exit %d (%v): %s", res.code, err, res.stderr)
		}
		var out []string
		for _, m := range snap.Members {
			out = append(out, m.Email)
		}
		return out
	}
	if got := emails(t); !cmp.Equal(got, []string{pt.AnnEmail, pt.OwnerEmail}) {
		t.Errorf("emails %q, want Ann's and the owner's opened", got)
	}
	if _, err := vault.Forget(context.Background(), pt.AnnEmail); err != nil {
		t.Fatal(err)
	}
	got := emails(t)
	if len(got) != 2 || !strings.HasSuffix(got[0], "@"+privacy.ErasedDomain) || got[1] != pt.OwnerEmail {
		t.Errorf("emails %q after Ann is forgotten, want hers erased and the owner's", got)
	}
}

// TestAsOfAndTheAccessReviewThroughTheAPI: a team is built through the real
// App; then the members, permissions and review are asked of past moments
// taken from the answers themselves, exactly on the events' instants.
func TestAsOfAndTheAccessReviewThroughTheAPI(t *testing.T) {
	t.Parallel()
	app := startApp(t)
	owner, agent, outsider := app.user(t, "owner"), app.user(t, "agent"), app.user(t, "outsider")
	pid := app.createProperty(t, owner, "Acme").PropertyID
	app.join(t, owner, pid, "agent", agent)
	app.command(t, http.MethodPost, "/v1/properties/"+pid+"/members/"+agent.ID+"/disable", owner.Token, nil, nil, http.StatusOK)
	app.invite(t, owner, pid, map[string]string{"email": "dee@example.com", "role": "admin"})
	pos := app.command(t, http.MethodPost, "/v1/properties/"+pid+"/members/"+agent.ID+"/enable", owner.Token, nil, nil, http.StatusOK).Position

	past := app
	props := "/v1/properties/" + pid
	var today readmodels.MemberPage
	past.read(t, props+"/members", owner.Token, pos).want(t, http.StatusOK).into(t, &today)
	var p readmodels.Property
	past.read(t, props, owner.Token, pos).want(t, http.StatusOK).into(t, &p)
	var joined time.Time
	for _, m := range today.Members {
		if m.AccountID == agent.ID {
			joined = m.JoinedAt
		}
	}
	var trail readmodels.AuditPage
	past.read(t, props+"/audit?type=MemberAccessDisabled", owner.Token, pos).want(t, http.StatusOK).into(t, &trail)
	if joined.IsZero() || len(trail.Entries) != 1 {
		t.Fatalf("members %+v and %d disable entries: want the agent and one", today.Members, len(trail.Entries))
	}
	disabled := trail.Entries[0].OccurredAt
	q := func(at time.Time) string { return "as_of=" + url.QueryEscape(at.Format(time.RFC3339Nano)) }

	statuses := func(t *testing.T, at time.Time) map[string]string {
		t.Helper()
		var page readmodels.MemberPageAsOf
		past.read(t, props+"/members?"+q(at), owner.Token, pos).want(t, http.StatusOK).into(t, &page)
		if !page.AsOf.Equal(at) {
			t.Errorf("as_of %s, want %s", page.AsOf, at)
		}
		out := map[string]string{}
		for _, m := range page.Members {
			out[m.Email] = string(m.Role) + "/" + string(m.Status)
		}
		return out
	}
	moments := []struct {
		name string
		at   time.Time
		want map[string]string
	}{
		{"the instant before the join, the owner alone", joined.Add(-time.Microsecond), map[string]string{owner.Email: "admin/enabled"}},
		{"at the instant of the join, the agent too", joined, map[string]string{owner.Email: "admin/enabled", agent.Email: "agent/enabled"}},
		{"at the instant of the disable, disabled", disabled, map[string]string{owner.Email: "admin/enabled", agent.Email: "agent/disabled"}},
		{"now, enabled again as today", p.UpdatedAt, map[string]string{owner.Email: "admin/enabled", agent.Email: "agent/enabled"}},
	}
	for _, tt := range moments {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, statuses(t, tt.at)); diff != "" {
				t.Errorf("members (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("permissions at the disable are none", func(t *testing.T) {
		var a readmodels.AccessAsOf
		past.read(t, props+"/members/"+agent.ID+"/permissions?"+q(disabled), agent.Token, pos).want(t, http.StatusOK).into(t, &a)
		if a.Status != domain.StatusDisabled || len(a.Permissions) != 0 || !a.AsOf.Equal(disabled) {
			t.Errorf("access %+v, want disabled with none at %s", a, disabled)
		}
	})
	t.Run("the review, as JSON and as CSV", func(t *testing.T) {
		var rv readmodels.AccessReview
		past.read(t, props+"/access-review", owner.Token, pos).want(t, http.StatusOK).into(t, &rv)
		if len(rv.Members) != 2 || len(rv.PendingInvitations) != 1 || rv.PendingInvitations[0].Email != "dee@example.com" {
			t.Fatalf("review %+v, want two members and Dee's invitation", rv)
		}
		for _, m := range rv.Members {
			if m.AccountID == agent.ID && (m.Invitation == nil || m.Invitation.InvitedBy.AccountID != owner.ID ||
				m.LastAccessChange == nil || m.LastAccessChange.Type != domain.TypeMemberAccessEnabled) {
				t.Errorf("agent %+v, want invited by the owner and last enabled", m)
			}
		}
		resp, body := rawGet(t, past, props+"/access-review", owner, pos, map[string]string{"Accept": "text/csv"})
		recs, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
		if resp.StatusCode != http.StatusOK || err != nil || len(recs) != 4 {
			t.Errorf("CSV %d with %d rows (%v), want 200 with a header, two members and an invitation:\n%s", resp.StatusCode, len(recs), err, body)
		}
	})
	problems := []struct {
		name, path, token string
		status            int
		code              string
	}{
		{"an unreadable as_of", props + "/members?as_of=noon", owner.Token, http.StatusUnprocessableEntity, domain.CodeInvalidQuery},
		{"a future as_of", props + "/members?" + q(time.Now().Add(time.Hour)), owner.Token, http.StatusUnprocessableEntity, domain.CodeInvalidQuery},
		{"permissions with an unreadable as_of", props + "/members/" + agent.ID + "/permissions?as_of=noon", owner.Token,
			http.StatusUnprocessableEntity, domain.CodeInvalidQuery},
		{"before the property", props + "/members?" + q(joined.Add(-24*time.Hour)), owner.Token, http.StatusNotFound, domain.CodePropertyNotFound},
		{"an account before it joined", props + "/members/" + agent.ID + "/permissions?" + q(joined.Add(-time.Microsecond)), owner.Token,
			http.StatusNotFound, domain.CodeMemberNotFound},
		{"an outsider's as_of", props + "/members?" + q(joined), outsider.Token, http.StatusNotFound, domain.CodePropertyNotFound},
		{"an outsider's review", props + "/access-review", outsider.Token, http.StatusNotFound, domain.CodePropertyNotFound},
		{"a review in NDJSON", props + "/access-review?format=ndjson", owner.Token, http.StatusUnprocessableEntity, domain.CodeInvalidQuery},
	}
	for _, tt := range problems {
		t.Run(tt.name+" is "+tt.code, func(t *testing.T) {
			past.do(t, http.MethodGet, tt.path, tt.token, nil, map[string]string{"Roster-Min-Position": pos}).wantProblem(t, tt.status, tt.code)
		})
	}
}
