package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/projections"
	pt "github.com/rosterhq/roster/projections/projectiontest"
)

// stoppedJSON is what `projections status -json` says of a stopped
// projection.
type stoppedJSON struct {
	EventID   string `json:"event_id"`
	EventType string `json:"event_type"`
	Stream    string `json:"stream"`
	Position  string `json:"position"`
	Error     string `json:"error"`
	Attempts  int    `json:"attempts"`
}

// stoppedOf runs `projections status -json` and returns the stopped
// projections, by name.
func stoppedOf(t *testing.T, env map[string]string) map[string]stoppedJSON {
	t.Helper()
	res := roster(env, "projections", "status", "-json")
	if res.code != 0 {
		t.Fatalf("status exit %d: %s", res.code, res.stderr)
	}
	var st struct {
		Projections []struct {
			Name    string       `json:"name"`
			Stopped *stoppedJSON `json:"stopped"`
		} `json:"projections"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &st); err != nil {
		t.Fatalf("status -json printed %q: %v", res.stdout, err)
	}
	out := map[string]stoppedJSON{}
	for _, p := range st.Projections {
		if p.Stopped != nil {
			out[p.Name] = *p.Stopped
		}
	}
	return out
}

// eventually polls cond until it holds. The bound guards against a hang;
// it measures nothing.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s never happened", what)
		}
	}
}

// plainGet is a GET without a token, its body unparsed.
func (a *testApp) plainGet(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := a.http.Get(a.base + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode, string(body)
}

// appendPoison stores, straight into the event store as an old release or
// a bug might have, an event on pid whose metadata holds a user agent with
// U+0000: PostgreSQL text cannot hold it, so the audit projection, which
// keeps the user agent, cannot apply the event, while the other
// projections, which do not, can.
func appendPoison(t *testing.T, a *testApp, pid string, owner user) (string, eventstore.Position) {
	t.Helper()
	typ, data, err := domain.EncodeEvent(domain.MemberAccessEnabled{Schema: 1, AccountID: owner.ID})
	if err != nil {
		t.Fatal(err)
	}
	id := uuid.NewString()
	meta, err := json.Marshal(domain.Metadata{EventID: id, CommandID: uuid.NewString(), CorrelationID: uuid.NewString(),
		CausationID: uuid.NewString(), ActorID: owner.ID, ActorEmail: owner.Email, OccurredAt: time.Now().UTC(),
		UserAgent: "probe/1.0\u0000", Schema: domain.SchemaV1})
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.app.store.Append(context.Background(), domain.StreamName(pid), eventstore.Any(),
		[]eventstore.EventData{{ID: id, Type: typ, Data: data, Metadata: meta}})
	if err != nil {
		t.Fatalf("append the poison event: %v", err)
	}
	return id, res.Position
}

// readModelRows is every row of every projection's tables, as JSON text,
// sorted, by table.
func readModelRows(t *testing.T, a *testApp) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, p := range projections.All() {
		for _, table := range p.Tables {
			r, err := a.app.pool.Query(context.Background(), `SELECT to_jsonb(x)::text FROM `+pgx.Identifier{table}.Sanitize()+` x ORDER BY 1`)
			if err != nil {
				t.Fatalf("read %s: %v", table, err)
			}
			rows, err := pgx.CollectRows(r, pgx.RowTo[string])
			if err != nil {
				t.Fatalf("read %s: %v", table, err)
			}
			out[table] = rows
		}
	}
	return out
}

// TestAnEventAProjectionCannotApplyStopsThatProjectionAlone: an event the
// audit projection cannot store (U+0000 in a user agent) stops the audit
// projection after its retries, visibly (status, /metrics, /readyz, which
// stays 200), while every other projection goes on and a property created
// after it is read by its owner. `roster projections skip` records the
// operator's decision and the running server resumes the projection past
// the event without a restart; a rebuild passes over the event again and
// gives the same read models.
func TestAnEventAProjectionCannotApplyStopsThatProjectionAlone(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	ctx := context.Background()
	alice, bob := a.user(t, "alice"), a.user(t, "bob")
	acme := a.createProperty(t, alice, "Acme")
	poison, poisonAt := appendPoison(t, a, acme.PropertyID, alice)
	beta := a.createProperty(t, bob, "Beta")
	betaAt, err := eventstore.ParsePosition(beta.Position)
	if err != nil {
		t.Fatal(err)
	}
	if !poisonAt.Less(betaAt) {
		t.Fatalf("Beta at %s does not come after the poison event at %s", betaAt, poisonAt)
	}
	var others []string
	for _, p := range projections.All() {
		if p.Name != "audit" {
			others = append(others, p.Name)
		}
	}
	env := map[string]string{}
	for k, v := range a.env {
		env[k] = v
	}
	env["ROSTER_OPERATOR"] = "ops-kim"

	t.Run("the audit projection stops at the event, says why, and no other stops", func(t *testing.T) {
		var stopped map[string]stoppedJSON
		eventually(t, "the audit projection stopping", func() bool {
			stopped = stoppedOf(t, env)
			return len(stopped) > 0
		})
		got, ok := stopped["audit"]
		if len(stopped) != 1 || !ok {
			t.Fatalf("stopped projections %v, want audit alone", stopped)
		}
		if got.EventID != poison || got.EventType != "MemberAccessEnabled" || got.Stream != domain.StreamName(acme.PropertyID) ||
			got.Position != poisonAt.String() || got.Attempts < 2 || !strings.Contains(got.Error, "22021") {
			t.Errorf("audit stopped at %+v, want event %s (MemberAccessEnabled in %s at %s) after its retries, with SQLSTATE 22021",
				got, poison, domain.StreamName(acme.PropertyID), poisonAt)
		}
	})

	t.Run("the other projections go on past the event, and Beta's owner reads Beta", func(t *testing.T) {
		pt.Wait(t, a.app.pool, betaAt, others...)
		// Read without Roster-Min-Position: with it, a query waits for
		// every projection, the stopped one included.
		var p property
		a.do(t, http.MethodGet, "/v1/properties/"+beta.PropertyID, bob.Token, nil, nil).want(t, http.StatusOK).into(t, &p)
		if p.ID != beta.PropertyID || p.OwnerID != bob.ID || p.MemberCount != 1 {
			t.Errorf("Beta = %+v, want Bob's with one member", p)
		}
		var page memberPage
		a.do(t, http.MethodGet, "/v1/properties/"+beta.PropertyID+"/members", bob.Token, nil, nil).want(t, http.StatusOK).into(t, &page)
		if ms := page.Members; len(ms) != 1 || ms[0].AccountID != bob.ID || !ms[0].Owner {
			t.Errorf("Beta's members = %+v, want Bob, owner", ms)
		}
		var mine struct {
			Properties []myPropertyView `json:"properties"`
		}
		a.do(t, http.MethodGet, "/v1/me/properties", bob.Token, nil, nil).want(t, http.StatusOK).into(t, &mine)
		if want := []myPropertyView{{beta.PropertyID, "Beta", "admin", "enabled", true}}; !cmp.Equal(want, mine.Properties) {
			t.Errorf("Bob's properties = %+v, want %+v", mine.Properties, want)
		}
	})

	t.Run("/metrics says the audit projection is stopped, at which event", func(t *testing.T) {
		code, body := a.plainGet(t, "/metrics")
		if code != http.StatusOK {
			t.Fatalf("/metrics answered %d", code)
		}
		for _, want := range []string{
			`roster_projection_stopped{projection="audit"} 1`,
			`roster_projection_stopped{projection="members"} 0`,
			`roster_projection_stopped_event{event_id="` + poison + `",event_type="MemberAccessEnabled",position="` + poisonAt.String() +
				`",projection="audit",stream="` + domain.StreamName(acme.PropertyID) + `"} 1`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	})

	t.Run("/readyz stays 200 and says degraded, naming the projection, its event and its error", func(t *testing.T) {
		code, body := a.plainGet(t, "/readyz")
		var ready struct {
			Status   string `json:"status"`
			Degraded []struct {
				Component string            `json:"component"`
				Problem   string            `json:"problem"`
				Detail    map[string]string `json:"detail"`
			} `json:"degraded"`
		}
		if err := json.Unmarshal([]byte(body), &ready); err != nil {
			t.Fatalf("/readyz answered %q: %v", body, err)
		}
		if code != http.StatusOK || ready.Status != "degraded" || len(ready.Degraded) != 1 {
			t.Fatalf("/readyz = %d %s, want 200 degraded by one projection", code, body)
		}
		d := ready.Degraded[0]
		if d.Component != "projection audit" || !strings.Contains(d.Problem, poison) || !strings.Contains(d.Problem, "22021") ||
			d.Detail["event_id"] != poison || d.Detail["projection"] != "audit" {
			t.Errorf("/readyz degraded = %+v, want the audit projection, event %s and its error", d, poison)
		}
	})

	t.Run("the status table says where the audit projection stopped and why", func(t *testing.T) {
		res := roster(env, "projections", "status")
		if res.code != 0 {
			t.Fatalf("status exit %d: %s", res.code, res.stderr)
		}
		row := regexp.MustCompile(`(?m)^audit +\S+ +\S+ +\d+ +stopped +\S+ +\S+ +\S+$`)
		line := regexp.MustCompile(`(?m)^audit stopped at event ` + regexp.QuoteMeta(poison) +
			` \(MemberAccessEnabled in ` + regexp.QuoteMeta(domain.StreamName(acme.PropertyID)) + ` at ` + regexp.QuoteMeta(poisonAt.String()) +
			`\) since \S+ after \d+ attempts: .*22021.*\n  skip it with ` + "`roster projections skip audit " + regexp.QuoteMeta(poison) + " -reason TEXT`")
		if !row.MatchString(res.stdout) || !line.MatchString(res.stdout) || strings.Count(res.stdout, " stopped ") != 2 {
			t.Errorf("status does not show audit stopped at %s:\n%s", poison, res.stdout)
		}
	})

	t.Run("a rebuild while audit is stopped rebuilds the others, and leaves audit as it was, saying which event to skip", func(t *testing.T) {
		res := roster(env, "projections", "rebuild")
		if res.code != 1 || !strings.Contains(res.stderr, "1 of 8 projections not rebuilt") {
			t.Errorf("rebuild exit %d, stderr %q; want exit 1 and one projection not rebuilt", res.code, res.stderr)
		}
		for _, name := range others {
			if !strings.Contains(res.stdout, "rebuilt "+name+": ") {
				t.Errorf("rebuild does not report %s:\n%s", name, res.stdout)
			}
		}
		want := "not rebuilt audit: it cannot apply event " + poison + " (MemberAccessEnabled in " + domain.StreamName(acme.PropertyID) +
			" at " + poisonAt.String() + "): "
		hint := "  skip it with `roster projections skip audit " + poison + " -reason TEXT` and rebuild audit again\n"
		if !strings.Contains(res.stdout, want) || !strings.Contains(res.stdout, hint) || regexp.MustCompile(`(?m)^rebuilt audit:`).MatchString(res.stdout) {
			t.Errorf("rebuild printed:\n%s\nwant audit not rebuilt, with %q and %q", res.stdout, want, hint)
		}
		if got := stoppedOf(t, env); len(got) != 1 || got["audit"].EventID != poison {
			t.Errorf("stopped projections %v, want audit at %s still", got, poison)
		}
		if one := roster(env, "projections", "rebuild", "members"); one.code != 0 {
			t.Errorf("rebuild members exit %d: %s", one.code, one.stderr)
		}
		pt.Wait(t, a.app.pool, betaAt, others...)
	})

	refusals := []struct {
		name     string
		args     []string
		code     int
		inStderr string
	}{
		{"a skip without a reason", []string{"projections", "skip", "audit", poison}, 2, "-reason is required"},
		{"a skip with a blank reason", []string{"projections", "skip", "-reason", "  ", "audit", poison}, 1, "reason is blank"},
		{"a skip with a reason too long", []string{"projections", "skip", "-reason", strings.Repeat("x", 501), "audit", poison}, 1, "reason is 501 characters"},
		{"a skip with a control character in the reason", []string{"projections", "skip", "-reason", "bad\u0000input", "audit", poison}, 1, "reason holds a control character at byte 3"},
		{"a skip of an unknown projection", []string{"projections", "skip", "-reason", "r", "nope", poison}, 1, `unknown projection "nope"`},
		{"a skip of an event that is no UUID", []string{"projections", "skip", "-reason", "r", "audit", "not-an-id"}, 1, `event ID "not-an-id" is not a UUID`},
		{"a skip of an event not in the feed", []string{"projections", "skip", "-reason", "r", "audit", "6a0b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d"}, 1, "event 6a0b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d is not in the feed"},
		{"a skip without an event", []string{"projections", "skip", "-reason", "r", "audit"}, 2, "usage: roster projections skip"},
		{"a skip by a blank operator", []string{"projections", "skip", "-reason", "r", "-operator", " ", "audit", poison}, 1, "operator is blank"},
		{"a retry of a projection that is not stopped", []string{"projections", "retry", "members"}, 1, "members is not stopped"},
	}
	for _, tt := range refusals {
		t.Run(tt.name+" is refused and changes nothing", func(t *testing.T) {
			res := roster(env, tt.args...)
			if res.code != tt.code || !strings.Contains(res.stderr, tt.inStderr) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", res.code, res.stderr, tt.code, tt.inStderr)
			}
			if got := stoppedOf(t, env); len(got) != 1 || got["audit"].EventID != poison {
				t.Errorf("stopped projections %v, want audit at %s still", got, poison)
			}
			var skips, actions int
			if err := a.app.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM projection_skips), (SELECT count(*) FROM ops_audit)`).Scan(&skips, &actions); err != nil {
				t.Fatal(err)
			}
			if skips != 0 || actions != 0 {
				t.Errorf("%d skips and %d operator actions recorded, want none", skips, actions)
			}
		})
	}

	t.Run("a skip is recorded, audited, and the running server resumes the projection past the event", func(t *testing.T) {
		res := roster(env, "projections", "skip", "audit", poison, "--reason", "NUL in a user agent; ticket OPS-12")
		if res.code != 0 {
			t.Fatalf("skip exit %d: %s", res.code, res.stderr)
		}
		want := "skipped event " + poison + " (MemberAccessEnabled in " + domain.StreamName(acme.PropertyID) + " at " + poisonAt.String() +
			") for audit, by ops-kim\naudit was stopped there: it resumes within seconds\n"
		if res.stdout != want {
			t.Errorf("skip printed %q, want %q", res.stdout, want)
		}
		pt.Wait(t, a.app.pool, betaAt, pt.Names(projections.All()...)...)
		eventually(t, "the status no longer showing audit stopped", func() bool { return len(stoppedOf(t, env)) == 0 })
		// Beta's audit is there now: every read model has reached Beta.
		a.read(t, "/v1/properties/"+beta.PropertyID+"/audit", bob.Token, beta.Position).want(t, http.StatusOK)

		code, body := a.plainGet(t, "/readyz")
		if code != http.StatusOK || !strings.Contains(body, `"status":"ready"`) || strings.Contains(body, "degraded") {
			t.Errorf("/readyz = %d %s, want ready", code, body)
		}
		if _, body := a.plainGet(t, "/metrics"); !strings.Contains(body, `roster_projection_stopped{projection="audit"} 0`) ||
			strings.Contains(body, "roster_projection_stopped_event{") {
			t.Errorf("/metrics still shows audit stopped")
		}
		list := roster(env, "projections", "skips")
		if list.code != 0 || !regexp.MustCompile(`(?m)^audit +`+regexp.QuoteMeta(poison)+` +MemberAccessEnabled +\S+ +ops-kim +\S+ +NUL in a user agent; ticket OPS-12$`).MatchString(list.stdout) {
			t.Errorf("skips exit %d printed:\n%s%s", list.code, list.stdout, list.stderr)
		}
		var operator, action, target string
		var detail map[string]any
		if err := a.app.pool.QueryRow(ctx, `SELECT operator, action, target, detail FROM ops_audit`).Scan(&operator, &action, &target, &detail); err != nil {
			t.Fatalf("the operator action: %v", err)
		}
		if operator != "ops-kim" || action != "projections.skip" || target != "audit" || detail["event_id"] != poison ||
			detail["reason"] != "NUL in a user agent; ticket OPS-12" || detail["stopped"] != true {
			t.Errorf("ops_audit = %s %s %s %v", operator, action, target, detail)
		}
		again := roster(env, "projections", "skip", "-reason", "twice", "audit", poison)
		if again.code != 1 || !strings.Contains(again.stderr, "already skipped") {
			t.Errorf("a second skip: exit %d, stderr %q; want it refused as already skipped", again.code, again.stderr)
		}
	})

	t.Run("a rebuild of every projection passes over the skipped event and gives the same read models", func(t *testing.T) {
		before := readModelRows(t, a)
		res := roster(env, "projections", "rebuild")
		if res.code != 0 {
			t.Fatalf("rebuild exit %d: %s", res.code, res.stderr)
		}
		for _, p := range projections.All() {
			if !strings.Contains(res.stdout, "rebuilt "+p.Name+": ") {
				t.Errorf("rebuild does not report %s:\n%s", p.Name, res.stdout)
			}
		}
		if diff := cmp.Diff(before, readModelRows(t, a)); diff != "" {
			t.Errorf("read models (-before +after the rebuild):\n%s", diff)
		}
	})
}
