package loadgen

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

const (
	// lagWorkers run the lag probes of a scenario.
	lagWorkers = 8
	// readInflight bounds the paced reads waiting for an answer at once.
	readInflight = 256
)

// insertBaselineOnce measures the insert baseline the first time a
// scenario needs it, just before that scenario's load.
func (b *bench) insertBaselineOnce(ctx context.Context) (*InsertBaseline, error) {
	return b.baselineOnce(ctx, &b.baselines.Insert, "single-row INSERT transactions", "inserts", insertBaseline)
}

// httpBaselineOnce measures the HTTP-plus-INSERT baseline the first time
// a scenario needs it.
func (b *bench) httpBaselineOnce(ctx context.Context) (*InsertBaseline, error) {
	return b.baselineOnce(ctx, &b.baselines.HTTPInsert, "a plain HTTP handler doing one INSERT per request", "HTTP+INSERT requests", httpInsertBaseline)
}

func (b *bench) baselineOnce(ctx context.Context, into **InsertBaseline, what, unit string,
	measure func(context.Context, *pgxpool.Pool, int, time.Duration) (*InsertBaseline, error)) (*InsertBaseline, error) {
	if *into == nil {
		b.progress("baseline: %d clients of %s for %s", b.cfg.Clients, what, b.cfg.Duration)
		m, err := measure(ctx, b.pool, b.cfg.Clients, b.cfg.Duration)
		if err != nil {
			return nil, err
		}
		*into = m
		b.progress("baseline: %.0f %s/s, p50 %.2f ms, p99 %.2f ms", m.PerSecond, unit, m.Latency.P50MS, m.Latency.P99MS)
	}
	return *into, nil
}

// spreadTarget is the runner's token and spread's properties.
func (b *bench) spreadTarget(ctx context.Context) (string, []string, error) {
	tok, err := b.tokens.token(b.runner)
	if err != nil {
		return "", nil, err
	}
	pids, err := b.spreadProperties(ctx, tok)
	return tok, pids, err
}

// tally counts a closed loop's commands: their latencies, failures by
// kind, and how many were accepted.
type tally struct {
	lat      Recorder
	errs     Errors
	accepted atomic.Int64
}

// spreadProperties makes the properties spread invites across, once per
// run, and waits until the read side knows them.
func (b *bench) spreadProperties(ctx context.Context, tok string) ([]string, error) {
	if b.spreadPIDs != nil {
		return b.spreadPIDs, nil
	}
	pids := make([]string, b.sizes.spreadProps)
	var pos positions
	if err := parallel(ctx, b.cfg.Clients, len(pids), func(ctx context.Context, i int) error {
		pid, err := b.createProperty(ctx, &pos, tok, fmt.Sprintf("bench-spread-%s-%d", b.runID, i))
		pids[i] = pid
		return err
	}); err != nil {
		return nil, err
	}
	if err := b.waitFor(ctx, tok, pos.get()); err != nil {
		return nil, err
	}
	b.spreadPIDs = pids
	return pids, nil
}

// littleP99 is the p99 target of a closed loop: 2.5 times the mean
// latency that Little's law gives for its clients and rate. A closed loop
// of n clients at r per second waits n/r on average whatever the server
// does, so only the spread around that mean is the server's to keep down.
func littleP99(s *Scenario, what string, l Latency, clients int, rate float64) Figure {
	mean := 0.0
	if rate > 0 {
		mean = float64(clients) / rate * 1000
	}
	return newFigure(s.Name, what+" p99", "ms", l.P99MS).against("clients÷throughput", mean).ratioAtMost(2.5)
}

// inviteOne is the command spread and hot send: one invitation, to an
// address nobody else in the run uses.
func (b *bench) inviteOne(ctx context.Context, tok, pid, scenario string, worker, i int) answer {
	email := fmt.Sprintf("%s-%s-%d-%d@bench.example", scenario, b.runID, worker, i)
	return b.c.do(ctx, "POST", "/v1/properties/"+pid+"/invitations", tok, inviteRow{Email: email, Role: "agent"})
}

// commandFigures are the figures of a closed-loop command scenario but its
// rate, which it returns for the caller to give a target. The lag probes'
// failures count with the scenario's.
func commandFigures(s *Scenario, clients, accepted int, took time.Duration, lat *Recorder, lag *lagSampler, errs *Errors) (rate Figure, rest []Figure) {
	lagL := lag.close()
	for k, n := range lag.errs.Counts() {
		errs.AddN(k, n)
	}
	l := lat.Summary()
	s.Latencies["command"], s.Latencies["lag"] = l, lagL
	s.Errors = errs.Counts()
	rate = newFigure(s.Name, "accepted commands/s", "/s", float64(accepted)/took.Seconds())
	rest = append(rest, newFigure(s.Name, "accepted commands", "", float64(accepted)))
	rest = append(rest, latencyFigures(s.Name, "command latency", l, 0)[:2]...)
	rest = append(rest, littleP99(s, "command latency", l, clients, rate.Value))
	s.Notes = append(s.Notes, fmt.Sprintf("projection lag sampled on %d commands (%d dropped with the probe queue full)", lagL.Count, lag.dropped.Load()))
	return rate, rest
}

// lagFigures are the projection lag's p50 and p99, the latter with a
// target when p99Below is positive.
func lagFigures(s *Scenario, p99Below float64) []Figure {
	l := s.Latencies["lag"]
	p99 := newFigure(s.Name, "projection lag p99", "ms", l.P99MS)
	if p99Below > 0 {
		p99 = p99.below(p99Below)
	}
	return []Figure{newFigure(s.Name, "projection lag p50", "ms", l.P50MS), p99}
}

// spread: invitations across many properties from 32 clients at once,
// next to as many clients inserting rows into bare PostgreSQL, and as many
// sending one INSERT a request to a plain HTTP handler.
func (b *bench) spread(ctx context.Context, s *Scenario) error {
	ins, err := b.insertBaselineOnce(ctx)
	if err != nil {
		return err
	}
	hb, err := b.httpBaselineOnce(ctx)
	if err != nil {
		return err
	}
	tok, pids, err := b.spreadTarget(ctx)
	if err != nil {
		return err
	}
	var t tally
	lag := newLagSampler(ctx, b.c, tok, lagWorkers)
	took := b.spreadLoad(ctx, tok, pids, "spread", b.cfg.Duration, &t, lag)
	errs := &t.errs
	rate, rest := commandFigures(s, b.cfg.Clients, int(t.accepted.Load()), took, &t.lat, lag, errs)
	b.closedMax = rate.Value
	s.add(rate.against("INSERT tx/s", ins.PerSecond).ratioAtLeast(0.35))
	s.add(newFigure(s.Name, "accepted commands/s against HTTP+INSERT", "/s", rate.Value).
		against("HTTP+INSERT req/s", hb.PerSecond).ratioAtLeast(0.6))
	s.add(rest...)
	s.add(lagFigures(s, 50)...)
	s.add(newFigure(s.Name, "errors", "", float64(errs.Total())))
	s.Notes = append(s.Notes, fmt.Sprintf("invitations spread over %d properties", len(pids)),
		fmt.Sprintf("HTTP+INSERT baseline: %.0f requests/s, p99 %.2f ms, served in the bench's own process", hb.PerSecond, hb.Latency.P99MS))
	return nil
}

// spreadLoad is spread's closed loop: clients inviting one address at a
// time to a property drawn at random from pids, for d. lag, when not nil,
// samples the projection lag.
func (b *bench) spreadLoad(ctx context.Context, tok string, pids []string, label string, d time.Duration, t *tally, lag *lagSampler) time.Duration {
	return closedLoop(ctx, b.cfg.Clients, d, func(ctx context.Context, w, i int) {
		pid := pids[rand.IntN(len(pids))]
		a := b.inviteOne(ctx, tok, pid, label, w, i)
		t.lat.Record(a.Took)
		t.errs.Add(a.Kind)
		if a.Kind == "" {
			t.accepted.Add(1)
			if lag != nil {
				lag.offer(i, pid, a, time.Now())
			}
		}
	})
}

// open: spread's invitations in an open loop at half the rate spread's
// closed loop reached, each sent at its planned moment whatever the
// answers do and timed from it, so a stall shows as latency, not as fewer
// requests. Without a spread run first, a closed loop of its own finds
// the rate.
func (b *bench) open(ctx context.Context, s *Scenario) error {
	tok, pids, err := b.spreadTarget(ctx)
	if err != nil {
		return err
	}
	if b.closedMax == 0 {
		var t tally
		took := b.spreadLoad(ctx, tok, pids, "open-max", b.cfg.Duration, &t, nil)
		b.closedMax = float64(t.accepted.Load()) / took.Seconds()
		s.Notes = append(s.Notes, fmt.Sprintf("closed-loop maximum measured here: %.0f commands/s", b.closedMax))
	}
	rate := max(1, b.closedMax/2)
	var (
		lat  Recorder
		errs Errors
		ok   atomic.Int64
	)
	took, sent, skipped := paced(ctx, rate, b.cfg.Duration, readInflight, func(ctx context.Context, i int, planned time.Time) {
		a := b.inviteOne(ctx, tok, pids[rand.IntN(len(pids))], "open", 0, i)
		lat.Record(time.Since(planned))
		errs.Add(a.Kind)
		if a.Kind == "" {
			ok.Add(1)
		}
	})
	errs.AddN(fmt.Sprintf("bench: planned request skipped, %d already waiting", readInflight), skipped)
	l := lat.Summary()
	s.Latencies["command"] = l
	s.Errors = errs.Counts()
	s.add(newFigure(s.Name, "planned commands/s", "/s", rate).against("closed-loop maximum", b.closedMax))
	s.add(newFigure(s.Name, "accepted commands/s", "/s", float64(ok.Load())/took.Seconds()).atLeast(0.95 * rate))
	s.add(latencyFigures(s.Name, "command latency", l, 15)...)
	s.add(newFigure(s.Name, "errors", "", float64(errs.Total())))
	s.Notes = append(s.Notes, fmt.Sprintf("%d sent at their planned moments over %d properties; latency counts from each planned moment", sent, len(pids)))
	return nil
}

// hot: 32 clients invite to one property at once. Afterwards every
// accepted invitation must show in the property's pending invitations.
func (b *bench) hot(ctx context.Context, s *Scenario) error {
	ins, err := b.insertBaselineOnce(ctx)
	if err != nil {
		return err
	}
	tok, err := b.tokens.token(b.runner)
	if err != nil {
		return err
	}
	var pos positions
	pid, err := b.createProperty(ctx, &pos, tok, "bench-hot-"+b.runID)
	if err != nil {
		return err
	}
	var (
		lat  Recorder
		errs Errors
		mu   sync.Mutex
		ids  []string
	)
	lag := newLagSampler(ctx, b.c, tok, lagWorkers)
	took := closedLoop(ctx, b.cfg.Clients, b.cfg.Duration, func(ctx context.Context, w, i int) {
		a := b.inviteOne(ctx, tok, pid, "hot", w, i)
		lat.Record(a.Took)
		errs.Add(a.Kind)
		if a.Kind != "" {
			return
		}
		pos.observe(a)
		var res commandAnswer
		if a.decode(&res) != nil || len(res.Invitations) != 1 {
			errs.Add("answer without its invitation")
			return
		}
		mu.Lock()
		ids = append(ids, res.Invitations[0].ID)
		mu.Unlock()
		lag.offer(i, pid, a, time.Now())
	})
	rate, rest := commandFigures(s, b.cfg.Clients, len(ids), took, &lat, lag, &errs)
	s.add(rate.against("INSERT tx/s", ins.PerSecond).ratioAtLeast(0.25))
	s.add(rest...)
	s.add(lagFigures(s, 0)...)

	// Every accepted command must be visible once the projections have
	// caught up: each invitation in the list, and the count agreeing.
	if err := b.waitFor(ctx, tok, pos.get()); err != nil {
		return err
	}
	type listedInvitation struct {
		ID string `json:"id"`
	}
	invitations, err := listAll[listedInvitation](ctx, b.c, "/v1/properties/"+pid+"/invitations", "invitations", tok,
		"list the hot property's invitations")
	if err != nil {
		return err
	}
	listed := make(map[string]bool, len(invitations))
	for _, inv := range invitations {
		listed[inv.ID] = true
	}
	visible := 0
	for _, id := range ids {
		if listed[id] {
			visible++
		}
	}
	v, err := b.property(ctx, tok, pid, "")
	if err != nil {
		return err
	}
	s.add(newFigure(s.Name, "accepted invitations visible after", "", float64(visible)).
		target(fmt.Sprintf("= %d accepted", len(ids)), visible == len(ids) && len(invitations) == len(ids) && v.PendingInvitationCount == len(ids)))
	s.add(newFigure(s.Name, "errors", "", float64(errs.Total())))
	s.Notes = append(s.Notes, fmt.Sprintf("after the run: %d accepted, %d listed pending, %d of them accepted ones, pending count %d",
		len(ids), len(invitations), visible, v.PendingInvitationCount))
	return nil
}

// long: the same commands (invite one, then revoke it) against the
// property with a long history and against a fresh one, four clients each.
func (b *bench) long(ctx context.Context, s *Scenario) error {
	tok, err := b.tokens.token(b.runner)
	if err != nil {
		return err
	}
	ownerTok, err := b.tokens.token(b.owner)
	if err != nil {
		return err
	}
	var pos positions
	fresh, err := b.createProperty(ctx, &pos, tok, "bench-fresh-"+b.runID)
	if err != nil {
		return err
	}
	var errs Errors
	pairs := func(pid, tok, label string) (Latency, float64) {
		var lat Recorder
		var ok atomic.Int64
		took := closedLoop(ctx, longClients, b.cfg.Duration, func(ctx context.Context, w, i int) {
			a := b.inviteOne(ctx, tok, pid, label, w, i)
			lat.Record(a.Took)
			errs.Add(a.Kind)
			if a.Kind != "" {
				return
			}
			ok.Add(1)
			var res commandAnswer
			if a.decode(&res) != nil || len(res.Invitations) != 1 {
				errs.Add("answer without its invitation")
				return
			}
			r := b.c.do(ctx, "DELETE", "/v1/properties/"+pid+"/invitations/"+res.Invitations[0].ID, tok, nil)
			lat.Record(r.Took)
			errs.Add(r.Kind)
			if r.Kind == "" {
				ok.Add(1)
			}
		})
		return lat.Summary(), float64(ok.Load()) / took.Seconds()
	}
	before, err := b.property(ctx, ownerTok, b.data.longPID, "")
	if err != nil {
		return err
	}
	freshL, freshRate := pairs(fresh, tok, "fresh")
	longL, longRate := pairs(b.data.longPID, ownerTok, "long")
	s.Latencies["fresh"], s.Latencies["long"] = freshL, longL
	s.Errors = errs.Counts()
	s.add(latencyFigures(s.Name, "fresh property latency", freshL, 0)...)
	s.add(latencyFigures(s.Name, "long stream latency", longL, 0)...)
	s.add(newFigure(s.Name, "long stream p50", "ms", longL.P50MS).against("fresh p50", freshL.P50MS).ratioAtMost(1.5))
	s.add(newFigure(s.Name, "long stream p99", "ms", longL.P99MS).against("fresh p99", freshL.P99MS).ratioAtMost(1.5))
	s.add(newFigure(s.Name, "long stream commands/s", "/s", longRate).against("fresh commands/s", freshRate))
	s.add(newFigure(s.Name, "long stream events before", "", float64(before.Revision+1)))
	s.add(newFigure(s.Name, "errors", "", float64(errs.Total())))
	return nil
}

// read: member pages and permission checks on the large property, paced
// at readRate a second whatever the answers do.
func (b *bench) read(ctx context.Context, s *Scenario) error {
	tok, err := b.tokens.token(b.owner)
	if err != nil {
		return err
	}
	pid := b.data.readPID
	// Walk every page once: it proves the property holds its members and
	// gives cursors into the whole list for the paced pages.
	walkStart := time.Now()
	var cursors []string
	total, cursor := 0, ""
	for {
		path := "/v1/properties/" + pid + "/members?limit=200"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		a := b.c.get(ctx, path, tok)
		if a.Kind != "" {
			return a.err("walk the read property's members")
		}
		var page struct {
			Members    []struct{} `json:"members"`
			NextCursor string     `json:"next_cursor"`
		}
		if err := a.decode(&page); err != nil {
			return err
		}
		total += len(page.Members)
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
		cursors = append(cursors, cursor)
	}
	n := b.sizes.readMembers
	if total != n+1 {
		return fmt.Errorf("the read property %s lists %d members, want %d", pid, total, n+1)
	}
	s.Notes = append(s.Notes, fmt.Sprintf("property %s: %d members walked in %d pages of 200 in %s",
		pid, total, len(cursors)+1, time.Since(walkStart).Round(time.Millisecond)))
	if b.baselines.Select == nil {
		if b.baselines.Select, err = selectBaseline(ctx, b.pool, b.sizes.selects); err != nil {
			return err
		}
	}
	sel := b.baselines.Select
	// The pages are read while spread's writes go on, as a dashboard's
	// are: the projections' batches and the commands share the cores.
	runTok, pids, err := b.spreadTarget(ctx)
	if err != nil {
		return err
	}
	var (
		wt     tally
		wTook  time.Duration
		writes sync.WaitGroup
	)
	writes.Go(func() {
		wTook = b.spreadLoad(ctx, runTok, pids, "read-spread", b.cfg.Duration, &wt, nil)
	})

	var pages, perms Recorder
	var errs Errors
	took, sent, skipped := paced(ctx, readRate, b.cfg.Duration, readInflight, func(ctx context.Context, i int, planned time.Time) {
		if i%2 == 1 {
			a := b.c.get(ctx, "/v1/properties/"+pid+"/members/"+member(rand.IntN(n)).ID+"/permissions", tok)
			perms.Record(time.Since(planned))
			errs.Add(a.Kind)
			return
		}
		path := "/v1/properties/" + pid + "/members"
		switch {
		case i%8 == 0:
			// A search as the dashboard's filter box sends it.
			path += "?q=" + url.QueryEscape(fmt.Sprintf("member-%d", rand.IntN(100)))
		case i%8 == 4:
			path += "?role=admin"
		case len(cursors) > 0:
			path += "?cursor=" + url.QueryEscape(cursors[rand.IntN(len(cursors))])
		}
		a := b.c.get(ctx, path, tok)
		pages.Record(time.Since(planned))
		errs.Add(a.Kind)
	})
	errs.AddN(fmt.Sprintf("bench: planned request skipped, %d already waiting", readInflight), skipped)
	writes.Wait()
	for k, n := range wt.errs.Counts() {
		errs.AddN("spread alongside: "+k, n)
	}
	pl, ml := pages.Summary(), perms.Summary()
	s.Latencies["member_page"], s.Latencies["permission"] = pl, ml
	s.Errors = errs.Counts()
	s.add(newFigure(s.Name, "requests/s (paced)", "/s", float64(sent)/took.Seconds()).atLeast(0.95 * readRate))
	s.add(latencyFigures(s.Name, "member page", pl, 0)[:2]...)
	s.add(newFigure(s.Name, "member page p99", "ms", pl.P99MS).against("SELECT 1 p99", sel.P99MS).below(5))
	s.add(latencyFigures(s.Name, "permission check", ml, 0)[:2]...)
	s.add(newFigure(s.Name, "permission check p99", "ms", ml.P99MS).against("SELECT 1 p99", sel.P99MS).below(2))
	s.add(newFigure(s.Name, "spread alongside: accepted commands/s", "/s", float64(wt.accepted.Load())/wTook.Seconds()))
	s.add(newFigure(s.Name, "errors", "", float64(errs.Total())))
	s.Notes = append(s.Notes, "latency counts from each request's planned moment; pages mix plain, cursor, role=admin and q= prefix searches",
		fmt.Sprintf("spread's %d clients invited across %d properties all the while (p99 %.2f ms)", b.cfg.Clients, len(pids), wt.lat.Summary().P99MS))
	return nil
}

// rebuild: every projection rebuilt by the operator's command while the
// server runs, next to one COPY of as many audit-shaped rows.
func (b *bench) rebuild(ctx context.Context, s *Scenario) error {
	b.progress("baseline: COPY of %d audit-shaped rows", b.sizes.copyRows)
	cp, err := copyBaseline(ctx, b.pool, b.sizes.copyRows)
	if err != nil {
		return err
	}
	b.baselines.Copy = cp
	events, err := b.countEvents(ctx)
	if err != nil {
		return err
	}
	b.progress("rebuild: %d events in the store; running the rebuild (baseline COPY %.0f rows/s)", events, cp.PerSecond)
	start := time.Now()
	run, err := b.cfg.Rebuild(ctx)
	took := time.Since(start)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.Errors = map[string]int{"rebuild: " + firstLine(err.Error()): 1}
	}
	s.Latencies["rebuild"] = summarise([]time.Duration{took})
	s.add(newFigure(s.Name, "events replayed", "", float64(events)))
	s.add(newFigure(s.Name, "wall time", "s", took.Seconds()))
	s.add(newFigure(s.Name, "events/s (all projections)", "/s", float64(events)/took.Seconds()).
		against("COPY rows/s", cp.PerSecond).target("≥ 30000 /s", err == nil && float64(events)/took.Seconds() >= 30000))
	if run.PeakRSSBytes > 0 {
		s.add(newFigure(s.Name, "rebuild process peak RSS", "MB", mb(run.PeakRSSBytes)))
	}
	s.add(newFigure(s.Name, "errors", "", float64(len(s.Errors))))
	if out := strings.TrimSpace(run.Output); out != "" {
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, "rebuilt ") {
				s.Notes = append(s.Notes, line)
			}
		}
	}
	return nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
