package loadgen

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/rosterhq/roster/infra/eventstore"
)

// dataset is what the read and long scenarios run against: properties
// owned by bench.owner, named after their size so a later run with the
// same scale finds them (readName, longName) instead of seeding again.
type dataset struct {
	readPID string
	longPID string
	// checkPIDs are the check scenario's properties, the k-th named
	// checkName(n, k).
	checkPIDs []string
}

func readName(n int) string { return fmt.Sprintf("bench-read-%d", n) }
func longName(n int) string { return fmt.Sprintf("bench-long-%d", n) }

// member is the i-th member of the read property. Every read property
// uses the same accounts: an account may belong to any number of them.
func member(i int) account {
	return account{ID: fmt.Sprintf("bench-member-%d", i), Email: fmt.Sprintf("member-%d@bench.example", i)}
}

// memberRole makes one member in ten an admin, so the role filter of the
// members list has something to tell apart.
func memberRole(i int) string {
	if i%10 == 0 {
		return "admin"
	}
	return "agent"
}

const (
	// streamClients write one stream at once while seeding, and
	// acceptClients answer invitations at once: the
	// server decides the commands waiting for one property together and
	// appends them in one go, so more clients make bigger groups, not more
	// lost races.
	streamClients = 16
	acceptClients = 32
	// importRows is the rows of one member import, the API's bound; and
	// importClients send imports at once: each import's keys are made
	// before its property's turn, so a second client keeps the server busy
	// while the first one's events are appended.
	importRows    = 1000
	importClients = 4
	// fillerEventsPerProperty is how much history each filler property
	// gets: a property created and invited to twenty times fifty.
	fillerEventsPerProperty = 1001
	// maxSeedAttempts bounds how often a seeding request is sent again
	// after a conflict or a transport failure.
	maxSeedAttempts = 20
)

// positions keeps the furthest position any seeding command answered, so
// the bench can wait for the projections to reach it.
type positions struct {
	mu  sync.Mutex
	max eventstore.Position
}

func (p *positions) observe(a answer) {
	pos, ok := a.position()
	if !ok {
		return
	}
	p.mu.Lock()
	if p.max.Less(pos) {
		p.max = pos
	}
	p.mu.Unlock()
}

func (p *positions) get() eventstore.Position {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.max
}

// seed makes the data set the chosen scenarios need, reusing what an
// earlier run left, and waits until the projections have caught up with it.
func (b *bench) seed(ctx context.Context) error {
	needRead := slices.Contains(b.cfg.Scenarios, Read)
	needLong := slices.Contains(b.cfg.Scenarios, Long)
	needRebuild := slices.Contains(b.cfg.Scenarios, Rebuild)
	needCheck := slices.Contains(b.cfg.Scenarios, Check)
	b.data = &dataset{}
	tok, err := b.tokens.token(b.owner)
	if err != nil {
		return err
	}
	var mine []propertyView
	if needRead || needLong || needCheck {
		// What an earlier run left is read back from the read models, so
		// they must first have caught up with everything it appended.
		start := time.Now()
		head, err := b.sync(ctx, tok)
		if err != nil {
			return err
		}
		b.report.Seeding = append(b.report.Seeding, SeedStep{Name: "projections catch up, before", TookS: time.Since(start).Seconds(),
			Detail: "until every read model reached the head of the feed, " + head.String() + ", to find what earlier runs seeded"})
		if mine, err = b.myProperties(ctx, tok); err != nil {
			return err
		}
	}
	var (
		pos      positions
		g, gctx  = errgroup.WithContext(ctx)
		mu       sync.Mutex
		steps    []SeedStep
		expected int // events the read and long seeding are about to append
	)
	record := func(s SeedStep) {
		mu.Lock()
		steps = append(steps, s)
		mu.Unlock()
	}
	if needRead {
		n := b.sizes.readMembers
		cand, found, err := b.findProperty(ctx, tok, mine, readName(n), func(p propertyView) int { return p.MemberCount })
		switch {
		case err != nil:
			return err
		case found && cand.MemberCount >= n+1:
			b.data.readPID = cand.ID
			record(SeedStep{Name: "read property", Reused: true, Detail: fmt.Sprintf("%s (%s): %d members", readName(n), cand.ID, cand.MemberCount)})
		default:
			expected += 1 + (n + 1 - cand.MemberCount) // created, and one MemberJoined a member
			g.Go(func() error {
				s, err := b.seedRead(gctx, tok, n, cand.ID, &pos)
				record(s)
				return err
			})
		}
	}
	if needLong {
		n := b.sizes.longEvents
		cand, found, err := b.findProperty(ctx, tok, mine, longName(n), func(p propertyView) int { return int(p.Revision) })
		switch {
		case err != nil:
			return err
		case found && int(cand.Revision)+1 >= n:
			b.data.longPID = cand.ID
			record(SeedStep{Name: "long-stream property", Reused: true, Detail: fmt.Sprintf("%s (%s): %d events", longName(n), cand.ID, cand.Revision+1)})
		default:
			have := 0
			if found {
				have = int(cand.Revision) + 1
			}
			expected += n - have + 100
			g.Go(func() error {
				s, err := b.seedLong(gctx, tok, n, cand.ID, have, &pos)
				record(s)
				return err
			})
		}
	}
	if needCheck {
		g.Go(func() error {
			s, err := b.seedCheck(gctx, tok, mine, &pos)
			record(s)
			return err
		})
	}
	if needRebuild {
		stored, err := b.countEvents(ctx)
		if err != nil {
			return err
		}
		if need := b.sizes.rebuildEvents - stored - expected; need > 0 {
			g.Go(func() error {
				s, err := b.seedFiller(gctx, tok, need, &pos)
				record(s)
				return err
			})
		} else {
			record(SeedStep{Name: "rebuild history", Reused: true,
				Detail: fmt.Sprintf("%d events stored, %d more coming from the steps above, %d wanted", stored, expected, b.sizes.rebuildEvents)})
		}
	}
	err = g.Wait()
	slices.SortFunc(steps, func(x, y SeedStep) int { return strings.Compare(x.Name, y.Name) })
	b.report.Seeding = append(b.report.Seeding, steps...)
	if err != nil {
		return fmt.Errorf("seeding: %w", err)
	}
	// Whatever was seeded, the projections may still be working through
	// it, or through an earlier run's: the scenarios start once every read
	// model has caught up, so none of them measures another's backlog.
	start := time.Now()
	head, err := b.sync(ctx, tok)
	if err != nil {
		return err
	}
	b.report.Seeding = append(b.report.Seeding, SeedStep{Name: "projections catch up, after", TookS: time.Since(start).Seconds(),
		Detail: "until every read model reached the head of the feed, " + head.String()})
	return nil
}

// sync waits until every read model has reached the head of the feed: the
// position of a property it creates for the purpose.
func (b *bench) sync(ctx context.Context, tok string) (eventstore.Position, error) {
	var pos positions
	if _, err := b.createProperty(ctx, &pos, tok, "bench-sync-"+b.runID); err != nil {
		return pos.get(), err
	}
	return pos.get(), b.waitFor(ctx, tok, pos.get())
}

// propertyView is the part of GET /v1/properties/{pid} the bench reads.
type propertyView struct {
	ID                     string `json:"id"`
	Name                   string `json:"name"`
	Revision               uint64 `json:"revision"`
	MemberCount            int    `json:"member_count"`
	PendingInvitationCount int    `json:"pending_invitation_count"`
}

func (b *bench) myProperties(ctx context.Context, tok string) ([]propertyView, error) {
	type myProperty struct {
		PropertyID string `json:"property_id"`
		Name       string `json:"name"`
	}
	mine, err := listAll[myProperty](ctx, b.c, "/v1/me/properties", "properties", tok, "list the bench owner's properties")
	if err != nil {
		return nil, err
	}
	var list []propertyView
	for _, p := range mine {
		list = append(list, propertyView{ID: p.PropertyID, Name: p.Name})
	}
	return list, nil
}

// findProperty returns the property named name that has got furthest by
// progress (say, its member count), and found false when there is none.
// A run interrupted while seeding leaves an unfinished one: the next run
// carries on with it.
func (b *bench) findProperty(ctx context.Context, tok string, mine []propertyView, name string, progress func(propertyView) int) (best propertyView, found bool, err error) {
	for _, p := range mine {
		if p.Name != name {
			continue
		}
		v, err := b.property(ctx, tok, p.ID, "")
		if err != nil {
			return best, false, err
		}
		if !found || progress(v) > progress(best) {
			best, found = v, true
		}
	}
	return best, found, nil
}

// property reads a property, waiting for minPos when it is not empty.
func (b *bench) property(ctx context.Context, tok, pid, minPos string) (propertyView, error) {
	var h []string
	if minPos != "" {
		h = []string{"Roster-Min-Position", minPos}
	}
	a := b.c.get(ctx, "/v1/properties/"+pid, tok, h...)
	if a.Kind != "" {
		return propertyView{}, a.err("GET /v1/properties/" + pid)
	}
	var v propertyView
	return v, a.decode(&v)
}

// countEvents counts the events in Roster's PostgreSQL event store.
func (b *bench) countEvents(ctx context.Context) (int, error) {
	var n int
	if err := b.pool.QueryRow(ctx, "SELECT count(*) FROM events").Scan(&n); err != nil {
		return 0, fmt.Errorf("count the stored events: %w", err)
	}
	return n, nil
}

// send sends a seeding command until it is accepted: a lost race (409
// concurrent_modification), a 502, 503 or 504, or a failed connection is
// sent again, anything else ends the seeding. Every attempt carries the
// same Idempotency-Key, so an attempt whose answer was lost after the write
// landed is answered, when sent again, with that write's result. done
// reports whether a refusal means the work is already done (for a write an
// earlier run may have made).
func (b *bench) send(ctx context.Context, pos *positions, tok, method, path string, body any, done func(kind string) bool) (answer, error) {
	var a answer
	key := newWriteKey()
	for attempt := 1; ; attempt++ {
		a = b.c.do(ctx, method, path, tok, body, idempotencyKey, key)
		pos.observe(a)
		switch {
		case a.Kind == "":
			return a, nil
		case done != nil && done(a.Kind):
			return a, nil
		case ctx.Err() != nil:
			return a, ctx.Err()
		case attempt < maxSeedAttempts && (isConflict(a.Kind) || retryableStatus(a.Status) || strings.HasPrefix(a.Kind, "transport:")):
			if err := sleep(ctx, time.Duration(attempt)*10*time.Millisecond); err != nil {
				return a, err
			}
		default:
			return a, a.err(method + " " + path)
		}
	}
}

// retryableStatus: the server was unavailable (503), or a gateway in front
// of it could not tell whether the write landed (502, 504).
func retryableStatus(status int) bool {
	return status == http.StatusBadGateway || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// createProperty creates a property and returns its ID.
func (b *bench) createProperty(ctx context.Context, pos *positions, tok, name string) (string, error) {
	a, err := b.send(ctx, pos, tok, "POST", "/v1/properties", map[string]string{"name": name}, nil)
	if err != nil {
		return "", err
	}
	var res commandAnswer
	if err := a.decode(&res); err != nil {
		return "", err
	}
	return res.PropertyID, nil
}

type inviteRow struct {
	Email string `json:"email"`
	Role  string `json:"role"`
}

// invite sends one bulk invite and returns the invitation IDs by email.
func (b *bench) invite(ctx context.Context, pos *positions, tok, pid string, rows []inviteRow) (map[string]string, error) {
	a, err := b.send(ctx, pos, tok, "POST", "/v1/properties/"+pid+"/invitations", map[string]any{"invitations": rows}, nil)
	if err != nil {
		return nil, err
	}
	var res commandAnswer
	if err := a.decode(&res); err != nil {
		return nil, err
	}
	ids := make(map[string]string, len(res.Invitations))
	for _, inv := range res.Invitations {
		ids[inv.Email] = inv.ID
	}
	if len(ids) != len(rows) {
		return nil, fmt.Errorf("invited %d, the answer names %d invitations", len(rows), len(ids))
	}
	return ids, nil
}

// ticker prints a seeding step's progress every few seconds.
func (b *bench) ticker(ctx context.Context, what string, done *atomic.Int64, total int) func() {
	ctx, cancel := context.WithCancel(ctx)
	start := time.Now()
	go func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				n := done.Load()
				b.progress("seed %s: %d/%d (%.0f/s)", what, n, total, float64(n)/time.Since(start).Seconds())
			}
		}
	}()
	return cancel
}

// seedRead makes the read property: its n members imported through the
// API's member import (POST .../members/import), importRows a request, as
// an operator moving a property over from another system would. Given the
// property an interrupted run left (pid), it adds only those who are not
// members yet; a pending invitation such a run left (an earlier version of
// the bench invited, then accepted each) is accepted by its invitee, since
// the import refuses a pending invitee.
func (b *bench) seedRead(ctx context.Context, tok string, n int, pid string, pos *positions) (step SeedStep, err error) {
	step.Name = "read property"
	start := time.Now()
	defer func() { step.TookS = time.Since(start).Seconds() }()
	ids := make([]string, n) // a pending invitation an earlier run left
	joined := make([]bool, n)
	if pid == "" {
		if pid, err = b.createProperty(ctx, pos, tok, readName(n)); err != nil {
			return step, err
		}
		step.Requests, step.Events = 1, 1
	} else if err := b.readBack(ctx, tok, pid, ids, joined); err != nil {
		return step, err
	}
	var toImport, toAccept []int
	for i := range n {
		switch {
		case joined[i]:
		case ids[i] != "":
			toAccept = append(toAccept, i)
		default:
			toImport = append(toImport, i)
		}
	}
	b.progress("seed read: property %s, importing %d, accepting %d left pending", pid, len(toImport), len(toAccept))
	var imported, accepted atomic.Int64
	stop := b.ticker(ctx, "read imports", &imported, len(toImport))
	batches := (len(toImport) + importRows - 1) / importRows
	err = parallel(ctx, importClients, batches, func(ctx context.Context, k int) error {
		batch := toImport[k*importRows : min(len(toImport), (k+1)*importRows)]
		rows := make([]importRow, len(batch))
		for j, i := range batch {
			m := member(i)
			rows[j] = importRow{AccountID: m.ID, Email: m.Email, Role: memberRole(i)}
		}
		if err := b.importMembers(ctx, pos, tok, pid, rows); err != nil {
			return err
		}
		imported.Add(int64(len(rows)))
		return nil
	})
	stop()
	importsTook := time.Since(start)
	step.Requests += batches
	step.Events += int(imported.Load())
	if err != nil {
		return step, err
	}
	acceptStart := time.Now()
	// An accept a run interrupted before its answer made comes back as
	// already accepted.
	already := func(kind string) bool {
		return strings.HasSuffix(kind, " invitation_accepted") || strings.HasSuffix(kind, " already_member")
	}
	err = parallel(ctx, acceptClients, len(toAccept), func(ctx context.Context, k int) error {
		i := toAccept[k]
		mtok, err := b.tokens.mint(member(i))
		if err != nil {
			return err
		}
		if _, err := b.send(ctx, pos, mtok, "POST", "/v1/properties/"+pid+"/invitations/"+ids[i]+"/accept", nil, already); err != nil {
			return err
		}
		accepted.Add(1)
		return nil
	})
	acceptsTook := time.Since(acceptStart)
	step.Requests += int(accepted.Load())
	step.Events += 2 * int(accepted.Load())
	step.Detail = fmt.Sprintf("%s (%s): %d members; %d imported in %d requests in %s (%.0f members/s), %d pending accepts in %s",
		readName(n), pid, n+1, imported.Load(), batches, importsTook.Round(time.Millisecond), float64(imported.Load())/importsTook.Seconds(),
		accepted.Load(), acceptsTook.Round(time.Millisecond))
	if err != nil {
		return step, err
	}
	b.data.readPID = pid
	return step, nil
}

// importRow is a row of POST /v1/properties/{pid}/members/import.
type importRow struct {
	AccountID string `json:"account_id"`
	Email     string `json:"email"`
	Role      string `json:"role"`
}

// importMembers sends one member import and checks that it imported every
// row. A retry carries the first attempt's Idempotency-Key (see send), so
// an attempt whose answer was lost imports nobody twice.
func (b *bench) importMembers(ctx context.Context, pos *positions, tok, pid string, rows []importRow) error {
	a, err := b.send(ctx, pos, tok, "POST", "/v1/properties/"+pid+"/members/import", map[string]any{"members": rows}, nil)
	if err != nil {
		return err
	}
	var res struct {
		Members []struct{} `json:"members"`
	}
	if err := a.decode(&res); err != nil {
		return err
	}
	if len(res.Members) != len(rows) {
		return fmt.Errorf("imported %d, the answer names %d members", len(rows), len(res.Members))
	}
	return nil
}

// readBack reads which members an unfinished read property has, and the
// pending invitations of the others, into joined and ids.
func (b *bench) readBack(ctx context.Context, tok, pid string, ids []string, joined []bool) error {
	type pending struct {
		ID    string `json:"id"`
		Email string `json:"email"`
	}
	invitations, err := listAll[pending](ctx, b.c, "/v1/properties/"+pid+"/invitations", "invitations", tok,
		"list the read property's pending invitations")
	if err != nil {
		return err
	}
	for _, inv := range invitations {
		var i int
		if _, err := fmt.Sscanf(inv.Email, "member-%d@bench.example", &i); err == nil && i >= 0 && i < len(ids) {
			ids[i] = inv.ID
		}
	}
	cursor := ""
	for {
		path := "/v1/properties/" + pid + "/members?limit=200"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		a := b.c.get(ctx, path, tok)
		if a.Kind != "" {
			return a.err("list the read property's members")
		}
		var page struct {
			Members []struct {
				AccountID string `json:"account_id"`
			} `json:"members"`
			NextCursor string `json:"next_cursor"`
		}
		if err := a.decode(&page); err != nil {
			return err
		}
		for _, m := range page.Members {
			var i int
			if _, err := fmt.Sscanf(m.AccountID, "bench-member-%d", &i); err == nil && i >= 0 && i < len(joined) {
				joined[i] = true
			}
		}
		if page.NextCursor == "" {
			return nil
		}
		cursor = page.NextCursor
	}
}

// seedLong gives a property n events of history while keeping its state
// small: cycles of fifty invitations and their revocation, longClients at
// a time. Given the property an interrupted run left (pid, with have
// events), it carries on.
func (b *bench) seedLong(ctx context.Context, tok string, n int, pid string, have int, pos *positions) (step SeedStep, err error) {
	step.Name = "long-stream property"
	start := time.Now()
	defer func() { step.TookS = time.Since(start).Seconds() }()
	if pid == "" {
		if pid, err = b.createProperty(ctx, pos, tok, longName(n)); err != nil {
			return step, err
		}
		step.Requests, step.Events, have = 1, 1, 1
	}
	var events atomic.Int64
	events.Store(int64(have))
	stop := b.ticker(ctx, "long-stream events", &events, n)
	defer stop()
	// A few clients cycle at once, as a property's admins would: one alone
	// waits for each answer and made this the longest part of the seeding,
	// while the server can take a busy property's commands together.
	var (
		mu       sync.Mutex
		claimed  = have // events the clients have taken on
		cycle    int
		requests atomic.Int64
	)
	take := func() (k, c int) {
		mu.Lock()
		defer mu.Unlock()
		if claimed >= n {
			return 0, 0
		}
		k = min(50, max(1, (n-claimed+1)/2))
		claimed += 2 * k
		cycle++
		return k, cycle
	}
	g, gctx := errgroup.WithContext(ctx)
	for range longClients {
		g.Go(func() error {
			for {
				k, c := take()
				if k == 0 {
					return nil
				}
				rows := make([]inviteRow, k)
				for j := range rows {
					// The run's ID keeps the addresses apart from the
					// invitations an interrupted cycle left pending.
					rows[j] = inviteRow{Email: fmt.Sprintf("cycle-%s-%d-%d@bench.example", b.runID, c, j), Role: "agent"}
				}
				got, err := b.invite(gctx, pos, tok, pid, rows)
				if err != nil {
					return err
				}
				ids := make([]string, 0, k)
				for _, r := range rows {
					ids = append(ids, got[r.Email])
				}
				if _, err := b.send(gctx, pos, tok, "POST", "/v1/properties/"+pid+"/invitations/revoke", map[string]any{"ids": ids}, nil); err != nil {
					return err
				}
				requests.Add(2)
				events.Add(int64(2 * k))
			}
		})
	}
	err = g.Wait()
	step.Requests += int(requests.Load())
	step.Events += int(events.Load()) - have
	have = int(events.Load())
	if err != nil {
		return step, err
	}
	step.Detail = fmt.Sprintf("%s (%s): %d events, %d of them appended at %.0f events/s", longName(n), pid, have, step.Events, float64(step.Events)/time.Since(start).Seconds())
	b.data.longPID = pid
	return step, nil
}

// seedFiller adds about need events of history across properties of about
// a thousand events each, for the rebuild to replay.
func (b *bench) seedFiller(ctx context.Context, tok string, need int, pos *positions) (step SeedStep, err error) {
	step.Name = "rebuild history"
	start := time.Now()
	defer func() { step.TookS = time.Since(start).Seconds() }()
	props := max(1, (need+fillerEventsPerProperty-1)/fillerEventsPerProperty)
	var events, requests atomic.Int64
	stop := b.ticker(ctx, "rebuild history events", &events, need)
	err = parallel(ctx, max(1, b.cfg.Clients/2), props, func(ctx context.Context, p int) error {
		// Each property gets its share; the first ones take the remainder.
		quota := need / props
		if p < need%props {
			quota++
		}
		pid, err := b.createProperty(ctx, pos, tok, fmt.Sprintf("bench-filler-%s-%d", b.runID, p))
		if err != nil {
			return err
		}
		requests.Add(1)
		events.Add(1)
		for done, batch := 1, 0; done < quota; batch++ {
			k := min(50, quota-done)
			rows := make([]inviteRow, k)
			for j := range rows {
				rows[j] = inviteRow{Email: fmt.Sprintf("filler-%d-%d@bench.example", batch, j), Role: "agent"}
			}
			if _, err := b.invite(ctx, pos, tok, pid, rows); err != nil {
				return err
			}
			done += k
			requests.Add(1)
			events.Add(int64(k))
		}
		return nil
	})
	stop()
	step.Requests, step.Events = int(requests.Load()), int(events.Load())
	took := time.Since(start)
	step.Detail = fmt.Sprintf("%d properties, %d events at %.0f events/s", props, step.Events, float64(step.Events)/took.Seconds())
	return step, err
}

// waitFor waits until every read model has reached pos, asking a query
// that carries Roster-Min-Position until it no longer answers stale.
func (b *bench) waitFor(ctx context.Context, tok string, pos eventstore.Position) error {
	start := time.Now()
	last := start
	for {
		a := b.c.get(ctx, "/v1/me/invitations", tok, "Roster-Min-Position", pos.String())
		if a.Kind != "" && !strings.HasPrefix(a.Kind, "transport: timeout") {
			return a.err("wait for the projections")
		}
		if a.Kind == "" && !a.stale() {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if time.Since(last) >= 10*time.Second {
			last = time.Now()
			b.progress("waiting for the projections to reach %s (%s so far; events behind: %s)",
				pos, time.Since(start).Round(time.Second), b.consumersBehind(ctx))
		}
	}
}

// consumersBehind lists the feed's consumers that lag, from the server's
// roster_consumer_lag_events, for the progress of a long wait.
func (b *bench) consumersBehind(ctx context.Context) string {
	m := b.c.get(ctx, "/metrics", "")
	if m.Kind != "" {
		return "unknown (" + m.Kind + ")"
	}
	samples, err := metricSamples(m.Body, "roster_consumer_lag_events")
	if err != nil {
		return "unknown"
	}
	slices.SortFunc(samples, func(x, y metricSample) int { return cmp.Compare(y.value, x.value) })
	var parts []string
	for _, s := range samples {
		if s.value > 0 {
			parts = append(parts, fmt.Sprintf("%s %.0f", strings.TrimSuffix(strings.TrimPrefix(s.labels, `handler="`), `"`), s.value))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// parallel runs fn for 0..n-1 on workers goroutines and stops at the first
// error, which it returns.
func parallel(ctx context.Context, workers, n int, fn func(ctx context.Context, i int) error) error {
	g, ctx := errgroup.WithContext(ctx)
	var next atomic.Int64
	for range min(workers, n) {
		g.Go(func() error {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return nil
				}
				if err := fn(ctx, i); err != nil {
					return err
				}
				if ctx.Err() != nil {
					return ctx.Err()
				}
			}
		})
	}
	return g.Wait()
}
