package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/config"
	"github.com/rosterhq/roster/infra/consumers"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/esdb/esdbdouble"
	"github.com/rosterhq/roster/infra/pgtest"
	"github.com/rosterhq/roster/projections"
	pt "github.com/rosterhq/roster/projections/projectiontest"
)

// fleet is several `roster serve` processes (the test binary as roster,
// see benchChildEnv) on one PostgreSQL database and one event store, as
// instances behind a load balancer would be.
type fleet struct {
	t     *testing.T
	env   map[string]string // every instance's, and the subcommands'
	pool  *pgxpool.Pool
	smtpd *testSMTPD

	mu    sync.Mutex
	procs map[string]*serveProc
}

// serveProc is one running `roster serve`.
type serveProc struct {
	id     string
	cmd    *exec.Cmd
	api    *testApp // its base URL and a client
	logs   *syncBuffer
	exited chan struct{}
}

// newFleet prepares a database, an SMTP server and, on the esdb pass, an
// EventStoreDB double for instances to share; none runs yet. ttl is their
// leases'.
func newFleet(t *testing.T, ttl time.Duration) *fleet {
	t.Helper()
	pgURL := pgtest.NewDatabase(t)
	srv := startSMTPD(t)
	env := map[string]string{"ROSTER_PG_URL": withPoolSize(pgURL, 12), "ROSTER_JWT_SECRET": testSecret,
		"ROSTER_EVENT_STORE": e2eStore, "ROSTER_HTTP_ADDR": "127.0.0.1:0", "ROSTER_LEASE_TTL": ttl.String(),
		"ROSTER_SMTP_URL": srv.url(), "ROSTER_MAIL_FROM": "Roster <roster@mail.example.com>",
		// A mail a killed instance was sending is sent again after this,
		// not after the 5 minutes of production.
		"ROSTER_MAIL_LEASE": "3s"}
	for _, l := range limitVars { // the load's bursts are not what the fleet proves
		env[l] = "10000000"
	}
	if e2eStore == config.EventStoreESDB {
		db, err := esdbdouble.Start("127.0.0.1:0")
		if err != nil {
			t.Fatalf("start the EventStoreDB double: %v", err)
		}
		t.Cleanup(db.Close) // after the processes', which run first
		env["ROSTER_ESDB_URL"] = db.URL()
	}
	// The instances apply the migrations, one at a time; the test's pool
	// reads what they write.
	if res := roster(env, "migrate"); res.code != 0 {
		t.Fatalf("migrate: %s", res.stderr)
	}
	pool, err := pgxpool.New(context.Background(), pgURL)
	if err != nil {
		t.Fatal(err)
	}
	f := &fleet{t: t, env: env, pool: pool, smtpd: srv, procs: map[string]*serveProc{}}
	t.Cleanup(func() {
		f.mu.Lock()
		procs := make([]*serveProc, 0, len(f.procs))
		for _, p := range f.procs {
			procs = append(procs, p)
		}
		f.mu.Unlock()
		for _, p := range procs {
			_ = p.cmd.Process.Kill()
			<-p.exited
			if t.Failed() {
				t.Logf("instance %s log, last lines but requests:\n%s", p.id, tail(withoutRequests(p.logs.String()), 40))
			}
		}
		pool.Close()
	})
	return f
}

// withoutRequests is a log without its line per request, which under the
// fleet's load would leave no room in a tail for what went wrong.
func withoutRequests(log string) string {
	var kept []string
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, `"message":"request"`) {
			kept = append(kept, line)
		}
	}
	return strings.Join(kept, "\n")
}

var servingOn = regexp.MustCompile(`roster: serving on (http://\S+)`)

// start runs an instance with the ID id and waits until it serves.
func (f *fleet) start(id string) *serveProc {
	f.t.Helper()
	cmd, _ := testSelf(context.Background(), "serve")
	cmd.Env = append(cmd.Env, "ROSTER_INSTANCE_ID="+id)
	for k, v := range f.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		f.t.Fatal(err)
	}
	p := &serveProc{id: id, cmd: cmd, logs: &syncBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = p.logs
	if err := cmd.Start(); err != nil {
		f.t.Fatalf("start instance %s: %v", id, err)
	}
	base := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := servingOn.FindStringSubmatch(sc.Text()); m != nil {
				base <- m[1]
			}
		}
	}()
	go func() { _ = cmd.Wait(); close(p.exited) }()
	select {
	case b := <-base:
		// A short timeout: a stalled instance's requests go elsewhere.
		p.api = &testApp{base: b, http: &http.Client{Timeout: 5 * time.Second}}
	case <-p.exited:
		f.t.Fatalf("instance %s exited: %s", id, p.logs.String())
	case <-time.After(time.Minute): // a hang guard
		f.t.Fatalf("instance %s does not serve: %s", id, p.logs.String())
	}
	f.mu.Lock()
	f.procs[id] = p
	f.mu.Unlock()
	return p
}

// kill ends the instance id with SIGKILL, or SIGTERM when graceful.
func (f *fleet) kill(id string, graceful bool) {
	f.t.Helper()
	f.mu.Lock()
	p := f.procs[id]
	delete(f.procs, id)
	f.mu.Unlock()
	sig := syscall.SIGKILL
	if graceful {
		sig = syscall.SIGTERM
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		f.t.Fatalf("signal %s: %v", id, err)
	}
	select {
	case <-p.exited:
	case <-time.After(time.Minute): // a hang guard
		f.t.Fatalf("instance %s did not exit", id)
	}
}

// signal sends sig to the instance id.
func (f *fleet) signal(id string, sig syscall.Signal) {
	f.t.Helper()
	f.mu.Lock()
	p := f.procs[id]
	f.mu.Unlock()
	if err := p.cmd.Process.Signal(sig); err != nil {
		f.t.Fatalf("signal %s: %v", id, err)
	}
}

// live returns the instances running, in ID order.
func (f *fleet) live() []*serveProc {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]*serveProc, 0, len(f.procs))
	for _, p := range f.procs {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b *serveProc) int { return strings.Compare(a.id, b.id) })
	return out
}

// leaders returns who leads each consumer now.
func (f *fleet) leaders() map[string]string {
	f.t.Helper()
	ls, err := consumers.Leaders(context.Background(), f.pool)
	if err != nil {
		f.t.Fatal(err)
	}
	out := map[string]string{}
	for _, l := range ls {
		out[l.Consumer] = l.Instance
	}
	return out
}

// consumerCount is how many consumers each instance runs: the projections,
// the mail consumer, the webhook deliveries' consumer and the expiry
// scheduler.
func consumerCount() int { return len(projections.All()) + 3 }

// spread waits until every consumer is led by one of ids, each leading
// some.
func (f *fleet) spread(ids ...string) {
	f.t.Helper()
	waitUntil(f.t, 2*time.Minute, fmt.Sprintf("the consumers spread over %v", ids), func() bool {
		got := f.leaders()
		count := map[string]int{}
		for _, who := range got {
			count[who]++
		}
		for _, id := range ids {
			if count[id] == 0 {
				return false
			}
		}
		return len(got) == consumerCount() && count[""] == 0
	})
}

// load is commands sent round the live instances: properties created and
// people invited, each command retried on another instance with the same
// idempotency key until one accepts it, as a client behind a load
// balancer would.
type load struct {
	f    *fleet
	stop chan struct{}
	wg   sync.WaitGroup

	mu       sync.Mutex
	props    map[string]int // invitations accepted per property
	emails   []string
	last     eventstore.Position
	perProc  map[string]int
	failures []string
}

func (f *fleet) startLoad(workers int) *load {
	l := &load{f: f, stop: make(chan struct{}), props: map[string]int{}, perProc: map[string]int{}}
	for w := range workers {
		l.wg.Go(func() { l.work(w) })
	}
	return l
}

func (l *load) work(w int) {
	owner := user{ID: uuid.NewString(), Email: fmt.Sprintf("owner%d@example.com", w)}
	owner.Token = mint(l.f.t, testSecret, "roster", "roster", owner.ID, owner.Email, true, time.Hour, time.Now())
	for n := 0; ; n++ {
		select {
		case <-l.stop:
			return
		default:
		}
		var created answer
		if !l.send(w+n, http.MethodPost, "/v1/properties", owner.Token, map[string]string{"name": fmt.Sprintf("P %d-%d", w, n)}, http.StatusCreated, &created) {
			return
		}
		l.mu.Lock()
		l.props[created.PropertyID] += 0
		l.mu.Unlock()
		for i := range 2 {
			email := fmt.Sprintf("w%d-p%d-i%d@example.com", w, n, i)
			body := map[string]any{"invitations": []map[string]string{{"email": email, "role": "agent"}}}
			if !l.send(w+n+i+1, http.MethodPost, "/v1/properties/"+created.PropertyID+"/invitations", owner.Token, body, http.StatusCreated, nil) {
				return
			}
			l.mu.Lock()
			l.props[created.PropertyID]++
			l.emails = append(l.emails, email)
			l.mu.Unlock()
		}
	}
}

// send sends one command until an instance accepts it with want, starting
// with the live instance at index pick; it reports false when the load
// stopped first or the command was refused.
func (l *load) send(pick int, method, path, token string, body any, want int, into *answer) bool {
	key := uuid.NewString()
	for attempt := 0; ; attempt++ {
		live := l.f.live()
		if len(live) == 0 {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		p := live[(pick+attempt)%len(live)]
		r, err := p.api.send(method, path, token, body, map[string]string{"Idempotency-Key": key})
		switch {
		case err == nil && r.Status == want:
			var ans answer
			r.into(l.f.t, &ans)
			if into != nil {
				*into = ans
			}
			pos, perr := eventstore.ParsePosition(ans.Position)
			l.mu.Lock()
			l.perProc[p.id]++
			if perr == nil && l.last.Less(pos) {
				l.last = pos
			}
			l.mu.Unlock()
			return true
		case err == nil && r.Status < 500:
			l.mu.Lock()
			l.failures = append(l.failures, fmt.Sprintf("%s %s answered %d: %s", method, path, r.Status, r.Raw))
			l.mu.Unlock()
			return false
		}
		// A transport error or a 5xx: the instance died, or lost its
		// database; another one gets the same command.
		select {
		case <-l.stop:
			if attempt > 200 {
				return false
			}
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// end stops the load, waits for the commands in flight, and fails the
// test on any command refused.
func (l *load) end() {
	close(l.stop)
	l.wg.Wait()
	for _, f := range l.failures {
		l.f.t.Errorf("command refused: %s", f)
	}
}

// settle waits until every projection and the mail consumer reached the
// last position the load was answered, and every mail left.
func (f *fleet) settle(l *load) {
	f.t.Helper()
	waitUntil(f.t, 2*time.Minute, "every consumer at "+l.last.String()+" and every mail sent", func() bool {
		ls, err := consumers.Leaders(context.Background(), f.pool)
		if err != nil {
			f.t.Fatal(err)
		}
		if len(ls) != consumerCount() {
			return false
		}
		for _, c := range ls {
			if c.Checkpoint.Less(l.last) {
				return false
			}
		}
		var unsent int
		if err := f.pool.QueryRow(context.Background(), `SELECT count(*) FROM mail_ledger WHERE status <> 'sent'`).Scan(&unsent); err != nil {
			f.t.Fatal(err)
		}
		return unsent == 0
	})
}

// verify checks what the fail-over tests promise: every accepted command's
// events stored once, read models equal to a fresh rebuild, every
// invitation mail sent once (the ledger and the SMTP server agree), the
// audit chain whole, and no consumer led by two instances at once.
func (f *fleet) verify(l *load) {
	t := f.t
	t.Helper()
	ctx := context.Background()
	t.Run("every accepted command's events are stored once", func(t *testing.T) {
		cfg, err := config.Load(func(k string) string { return f.env[k] })
		if err != nil {
			t.Fatal(err)
		}
		store, err := openEventStore(cfg, f.pool)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]map[string]int{}
		for after := eventstore.Start; ; {
			batch, err := store.ReadAll(ctx, after, 1000)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range batch {
				pid := strings.TrimPrefix(e.StreamID, domain.StreamPrefix)
				if got[pid] == nil {
					got[pid] = map[string]int{}
				}
				got[pid][e.Type]++
			}
			if len(batch) < 1000 {
				break
			}
			after = batch[len(batch)-1].Position
		}
		want := map[string]map[string]int{}
		for pid, invites := range l.props {
			want[pid] = map[string]int{domain.TypePropertyCreated: 1, domain.TypeMemberJoined: 1}
			if invites > 0 {
				want[pid][domain.TypeMemberInvited] = invites
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("events per property and type (-accepted +stored):\n%s", diff)
		}
	})
	t.Run("every read model equals a fresh rebuild", func(t *testing.T) {
		live := pt.TableRows(t, f.pool, projections.All()...)
		if res := roster(f.env, "projections", "rebuild"); res.code != 0 {
			t.Fatalf("rebuild exit %d: %s", res.code, res.stderr)
		}
		if diff := cmp.Diff(live, pt.TableRows(t, f.pool, projections.All()...)); diff != "" {
			t.Errorf("read models (-live +rebuilt):\n%s", diff)
		}
	})
	t.Run("every invitation mail was sent once", func(t *testing.T) {
		rows, err := f.pool.Query(ctx, `SELECT recipient FROM mail_ledger WHERE status = 'sent' ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		ledger, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		sent := f.smtpd.recipients()
		slices.Sort(sent)
		want := slices.Clone(l.emails)
		slices.Sort(want)
		if diff := cmp.Diff(want, ledger); diff != "" {
			t.Errorf("the ledger's sent mail (-invited +ledger):\n%s", diff)
		}
		if diff := cmp.Diff(ledger, sent); diff != "" {
			t.Errorf("mail the SMTP server got (-ledger +server):\n%s", diff)
		}
	})
	t.Run("roster audit verify passes", func(t *testing.T) {
		if res := roster(f.env, "audit", "verify"); res.code != 0 {
			t.Errorf("audit verify exit %d:\n%s%s", res.code, res.stdout, res.stderr)
		}
	})
	t.Run("no consumer was led by two instances at once", func(t *testing.T) {
		terms, err := consumers.Terms(ctx, f.pool)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range consumers.Overlaps(terms) {
			t.Error(o)
		}
		if len(terms) < consumerCount() {
			t.Errorf("%d leadership terms recorded, want at least one per consumer", len(terms))
		}
	})
}

// TestInstancesShareTheConsumersAndTakeOverFromOneAnother: three `roster
// serve` processes on one database, the load spread over all three; the
// instance leading the members projection is killed (SIGKILL), another's
// database sessions are terminated, the killed one restarts, and the one
// leading the mail consumer stalls (SIGSTOP) past its leases; then
// every accepted command's events are stored once, every read model equals
// a fresh rebuild, every invitation mail was sent once, the audit chain
// verifies, and no consumer was ever led by two instances at once.
func TestInstancesShareTheConsumersAndTakeOverFromOneAnother(t *testing.T) {
	if e2eStore == config.EventStoreMemory {
		t.Skip("the memory event store lives inside one process; instances cannot share it")
	}
	f := newFleet(t, 1500*time.Millisecond)
	for _, id := range []string{"i1", "i2", "i3"} {
		f.start(id)
	}
	f.spread("i1", "i2", "i3")
	l := f.startLoad(3)
	waitUntil(t, time.Minute, "the load under way", func() bool { l.mu.Lock(); defer l.mu.Unlock(); return len(l.emails) >= 6 })

	victim := f.leaders()["members"]
	f.kill(victim, false)
	waitUntil(t, time.Minute, "members taken over from "+victim, func() bool {
		who := f.leaders()["members"]
		return who != "" && who != victim
	})
	waitUntil(t, time.Minute, "more load", func() bool { l.mu.Lock(); defer l.mu.Unlock(); return len(l.emails) >= 12 })

	var cut string
	for _, p := range f.live() {
		if p.id != f.leaders()["members"] {
			cut = p.id
			break
		}
	}
	var cutSessions int
	if err := f.pool.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name IN ($1, $2)`, "roster "+cut, "roster leadership "+cut).Scan(&cutSessions); err != nil || cutSessions < 2 {
		t.Fatalf("terminated %d sessions of %s (%v), want its leadership session and some of its pool", cutSessions, cut, err)
	}
	waitUntil(t, time.Minute, "more load", func() bool { l.mu.Lock(); defer l.mu.Unlock(); return len(l.emails) >= 18 })

	f.start(victim)
	f.spread("i1", "i2", "i3")
	waitUntil(t, time.Minute, "more load", func() bool { l.mu.Lock(); defer l.mu.Unlock(); return len(l.emails) >= 24 })

	// A stalled instance (SIGSTOP) loses its leases once they run out; when
	// it wakes it finds them taken and writes nothing under them.
	stalled := f.leaders()["mail"]
	f.signal(stalled, syscall.SIGSTOP)
	waitUntil(t, time.Minute, "every consumer of "+stalled+" taken over", func() bool {
		got := f.leaders()
		for _, who := range got {
			if who == stalled || who == "" {
				return false
			}
		}
		return len(got) == consumerCount()
	})
	f.mu.Lock()
	woken := f.procs[stalled]
	f.mu.Unlock()
	before := len(woken.logs.String()) // what it logged before it woke does not count
	f.signal(stalled, syscall.SIGCONT)
	// Two ways to find them lost, both stopping what it led: its heartbeat
	// finds the leases taken, or, stopped inside a transaction of its
	// heartbeat connection, it finds that session ended by the server
	// (idle_in_transaction_session_timeout) and rejoins. settle and verify
	// then check that it wrote nothing twice.
	waitUntil(t, time.Minute, stalled+" finding its leases lost", func() bool {
		log := woken.logs.String()[before:]
		return strings.Contains(log, "lost the lease") || strings.Contains(log, "lost the leadership session")
	})
	f.spread("i1", "i2", "i3")
	waitUntil(t, time.Minute, "more load", func() bool { l.mu.Lock(); defer l.mu.Unlock(); return len(l.emails) >= 30 })
	l.end()
	for _, p := range []string{"i1", "i2", "i3"} {
		if l.perProc[p] == 0 {
			t.Errorf("instance %s accepted no command; the load was %v", p, l.perProc)
		}
	}
	f.settle(l)
	f.verify(l)
}

// TestFailoverTimes kills the instance leading the members projection
// (SIGKILL) ROSTER_FAILOVER_KILLS times (3 unless set) among three, each
// time restarting it, and logs how long the projection went without a
// leader: from the kill to the new leader's lease (the clock is the
// machine's, for the test and the database alike). It measures; it asserts
// only that a takeover happens and the leadership never overlaps.
//
//	ROSTER_FAILOVER_KILLS=20 ROSTER_TEST_EVENT_STORES=postgres go test ./cmd/roster -run TestFailoverTimes -v
func TestFailoverTimes(t *testing.T) {
	if e2eStore != config.EventStorePostgres {
		t.Skipf("measured on the postgres event store; this pass is %s", e2eStore)
	}
	kills := 3
	if v := os.Getenv("ROSTER_FAILOVER_KILLS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("ROSTER_FAILOVER_KILLS=%q is not a positive number", v)
		}
		kills = n
	}
	ttl := config.DefaultLeaseTTL
	f := newFleet(t, ttl)
	for _, id := range []string{"i1", "i2", "i3"} {
		f.start(id)
	}
	var took []time.Duration
	for range kills {
		f.spread("i1", "i2", "i3")
		ls, err := consumers.Leaders(context.Background(), f.pool)
		if err != nil {
			t.Fatal(err)
		}
		var epoch int64
		var victim string
		for _, l := range ls {
			if l.Consumer == "members" {
				epoch, victim = l.Epoch, l.Instance
			}
		}
		killed := time.Now()
		f.kill(victim, false)
		var since time.Time
		waitUntil(t, time.Minute, "members taken over from "+victim, func() bool {
			ls, err := consumers.Leaders(context.Background(), f.pool)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range ls {
				if l.Consumer == "members" && l.Epoch > epoch && l.Instance != "" {
					since = l.Since
					return true
				}
			}
			return false
		})
		took = append(took, since.Sub(killed))
		f.start(victim)
	}
	terms, err := consumers.Terms(context.Background(), f.pool)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range consumers.Overlaps(terms) {
		t.Error(o)
	}
	slices.Sort(took)
	t.Logf("fail-over of the members projection after SIGKILL of its leader, %d kills, lease %s: p50 %s, worst %s (all: %v)",
		len(took), ttl, took[len(took)/2].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond), took)
}
