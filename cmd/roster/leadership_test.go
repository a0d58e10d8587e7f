package main

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster/infra/config"
	"github.com/rosterhq/roster/infra/pgtest"
	"github.com/rosterhq/roster/projections"
)

// TestAnInstanceThatLeadsNothingServesAndSaysWhoLeads: while another live
// instance holds every consumer's lease, an App claims none; it is ready,
// answers commands, and its /metrics and `roster projections status` name
// the other instance as the leader of every consumer.
func TestAnInstanceThatLeadsNothingServesAndSaysWhoLeads(t *testing.T) {
	if e2eStore != config.EventStorePostgres {
		t.Skipf("the leases are the same whatever the event store; this pass is %s", e2eStore)
	}
	t.Parallel()
	ctx := context.Background()
	pgURL := pgtest.NewDatabase(t)
	// The other instance: a live session registered as "elsewhere",
	// holding every consumer's lease for an hour.
	other, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	if _, err := other.Exec(ctx, `INSERT INTO consumer_instances (id, backend_pid, backend_start)
		SELECT 'elsewhere', pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()`); err != nil {
		t.Fatal(err)
	}
	names := append(projectionNames(), "mail", "webhooks", "expiry")
	if _, err := other.Exec(ctx, `INSERT INTO consumer_leases (consumer, holder, epoch, expires_at)
		SELECT name, 'elsewhere', 1, now() + interval '1 hour' FROM unnest($1::text[]) AS c(name)`, names); err != nil {
		t.Fatal(err)
	}

	app := startApp(t, "ROSTER_PG_URL", withPoolSize(pgURL, 8), "ROSTER_INSTANCE_ID", "idle-one")
	owner := app.user(t, "owner")
	app.createProperty(t, owner, "Acme")
	app.do(t, http.MethodGet, "/readyz", "", nil, nil).want(t, http.StatusOK)

	metrics := func() string {
		resp, err := http.Get(app.base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	m := metrics()
	for _, name := range names {
		led := regexp.MustCompile(`(?m)^roster_consumer_leader_since_seconds\{consumer="` + name + `",instance="elsewhere"\} \S+$`)
		notHere := `roster_consumer_leading{consumer="` + name + `"} 0`
		if !led.MatchString(m) || !strings.Contains(m, notHere) {
			t.Errorf("/metrics does not say elsewhere leads %s and this instance does not:\n%s", name, grepLines(m, "roster_consumer_lead"))
		}
	}
	if strings.Contains(m, `instance="idle-one"`) {
		t.Errorf("/metrics names this instance as a leader:\n%s", grepLines(m, "idle-one"))
	}

	st := statusOf(t, app.env)
	for _, p := range st.Projections {
		if p.Leader == nil || p.Leader.Instance != "elsewhere" || p.Leader.Epoch != 1 || time.Since(p.Leader.Since) > time.Hour {
			t.Errorf("status of %s: leader %+v, want elsewhere at epoch 1", p.Name, p.Leader)
		}
	}
	if len(st.Consumers) != 3 {
		t.Errorf("status of the other consumers = %+v, want expiry, mail and webhooks", st.Consumers)
	}
	for _, c := range st.Consumers {
		if (c.Name != "mail" && c.Name != "webhooks" && c.Name != "expiry") || c.Leader == nil || c.Leader.Instance != "elsewhere" {
			t.Errorf("status of the other consumers = %+v, want expiry, mail and webhooks led by elsewhere", st.Consumers)
		}
	}
	if len(st.Projections) != len(projections.All()) {
		t.Errorf("status lists %d projections, want %d", len(st.Projections), len(projections.All()))
	}
	res := roster(app.env, "projections", "status")
	if !regexp.MustCompile(`(?m)^members +.* elsewhere +\d{4}-\S+$`).MatchString(res.stdout) ||
		!regexp.MustCompile(`(?m)^CONSUMER +CHECKPOINT +BEHIND +LEADER +SINCE\nexpiry +\S+ +\d+ +elsewhere +\S+\nmail +\S+ +\d+ +elsewhere +\S+\nwebhooks +\S+ +\d+ +elsewhere +\S+$`).MatchString(res.stdout) {
		t.Errorf("status table does not name elsewhere as the leader:\n%s", res.stdout)
	}
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
