package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/rosterhq/roster/infra/auth"
	"github.com/rosterhq/roster/infra/eventstore"
)

// CheckService is the service the check scenario calls the access-check
// API as: the server must list it in ROSTER_CHECK_SERVICES.
const CheckService = "roster-bench"

// The check scenario's sizes and rates at scale 1.
const (
	// checkProps properties of checkMembersPer members besides their
	// owner: 100,000 memberships.
	checkProps      = 10_000
	checkMembersPer = 9
	// checkBulk is the size of one bulk check.
	checkBulk = 100
	// checkRate is the paced rate of single checks, per second.
	checkRate = 2000
	// checkInflight bounds the paced checks waiting for an answer at once.
	checkInflight = 256
	// checkTogglers change a member's access and check it right after.
	checkTogglers = 4
)

// checkPermissions are the permissions the scenario asks about, of every
// kind the table has: an agent's, an admin's and the owner's own.
var checkPermissions = []string{"respond_to_chats", "view_members", "manage_members", "administrate_settings", "transfer_ownership"}

func checkName(n, k int) string { return fmt.Sprintf("bench-check-%d-%d", n, k) }

// checkMember is the j-th member of the k-th check property.
func checkMember(k, j int) account { return member(k*checkMembersPer + j) }

// checkItem is one item of a check request.
type checkItem struct {
	AccountID  string `json:"account_id"`
	PropertyID string `json:"property_id"`
	Permission string `json:"permission"`
	AtLeast    string `json:"at_least,omitempty"`
}

// randomCheck asks about a member of a random property four times in
// five, and about someone of another property otherwise.
func (b *bench) randomCheck() checkItem {
	pids := b.data.checkPIDs
	k := rand.IntN(len(pids))
	acc := checkMember(k, rand.IntN(checkMembersPer)).ID
	switch r := rand.IntN(10); {
	case r == 0:
		acc = b.owner.ID
	case r >= 8:
		acc = checkMember(rand.IntN(len(pids)), 0).ID
	}
	return checkItem{AccountID: acc, PropertyID: pids[k], Permission: checkPermissions[rand.IntN(len(checkPermissions))]}
}

// check: single checks and bulk checks of 100 from 32 clients each, single
// checks paced at 2,000/s, and checks at the position of a command just
// answered, all through the access-check API as a service.
func (b *bench) check(ctx context.Context, s *Scenario) error {
	svc, err := auth.MintService([]byte(b.cfg.Secret), b.cfg.Issuer, b.cfg.Audience, CheckService, "", b.tokens.ttl, time.Now())
	if err != nil {
		return err
	}
	if a := b.c.do(ctx, "POST", "/v1/access/check", svc, b.randomCheck()); a.Kind != "" {
		return a.err("a first check (is " + CheckService + " in the server's ROSTER_CHECK_SERVICES?)")
	}
	if b.baselines.Select == nil {
		if b.baselines.Select, err = selectBaseline(ctx, b.pool, b.sizes.selects); err != nil {
			return err
		}
	}
	sel := b.baselines.Select
	singles, bulks, err := b.checkBodies()
	if err != nil {
		return err
	}
	// A check is no write: one constant Idempotency-Key, which the check
	// routes never read, spares the tool a random one per request.
	check := func(ctx context.Context, path string, body []byte) answer {
		return b.c.do(ctx, "POST", path, svc, body, idempotencyKey, "bench-check")
	}
	var errs Errors

	var single Recorder
	took := closedLoop(ctx, b.cfg.Clients, b.cfg.Duration, func(ctx context.Context, _, _ int) {
		a := check(ctx, "/v1/access/check", singles[rand.IntN(len(singles))])
		single.Record(a.Took)
		errs.Add(a.Kind)
	})
	sl := single.Summary()
	s.Latencies["single"] = sl
	s.add(newFigure(s.Name, "single checks/s", "/s", float64(single.Count())/took.Seconds()).atLeast(20000))
	s.add(newFigure(s.Name, "single check p50", "ms", sl.P50MS))
	s.add(newFigure(s.Name, "single check p99", "ms", sl.P99MS).against("SELECT 1 p99", sel.P99MS).below(2))

	var bulk Recorder
	took = closedLoop(ctx, b.cfg.Clients, b.cfg.Duration, func(ctx context.Context, _, _ int) {
		a := check(ctx, "/v1/access/check-bulk", bulks[rand.IntN(len(bulks))])
		bulk.Record(a.Took)
		errs.Add(a.Kind)
	})
	bl := bulk.Summary()
	s.Latencies["bulk"] = bl
	s.add(newFigure(s.Name, "bulk check items/s", "/s", float64(bulk.Count()*checkBulk)/took.Seconds()).atLeast(200000))
	s.add(newFigure(s.Name, "bulk check of 100 p50", "ms", bl.P50MS))
	s.add(newFigure(s.Name, "bulk check of 100 p99", "ms", bl.P99MS).against("SELECT 1 p99", sel.P99MS))

	var paced2k, late, served Recorder
	took, sent, skipped := paced(ctx, checkRate, b.cfg.Duration, checkInflight, func(ctx context.Context, _ int, planned time.Time) {
		late.Record(time.Since(planned))
		a := check(ctx, "/v1/access/check", singles[rand.IntN(len(singles))])
		paced2k.Record(time.Since(planned))
		served.Record(a.Took)
		errs.Add(a.Kind)
	})
	errs.AddN(fmt.Sprintf("bench: planned check skipped, %d already waiting", checkInflight), skipped)
	pl := paced2k.Summary()
	s.Latencies["paced"] = pl
	s.add(newFigure(s.Name, "paced checks/s", "/s", float64(sent)/took.Seconds()).atLeast(0.95 * checkRate))
	s.add(newFigure(s.Name, "paced check p50", "ms", pl.P50MS))
	s.add(newFigure(s.Name, "paced check p99", "ms", pl.P99MS).against("SELECT 1 p99", sel.P99MS).below(1))
	// The two parts of a paced check's time: from its planned moment to its
	// sending (the tool's timer, which Go fires when the runtime's poller
	// wakes, up to a millisecond late on an idle machine), and from its
	// sending to its answer.
	s.add(newFigure(s.Name, "paced check sent late p99", "ms", late.Summary().P99MS))
	s.add(newFigure(s.Name, "paced check from its sending p99", "ms", served.Summary().P99MS))

	after, wrong, err := b.checkAfterCommands(ctx, svc, &errs)
	if err != nil {
		return err
	}
	al := after.Summary()
	s.Latencies["after_command"] = al
	s.add(newFigure(s.Name, "check at a command's position p50", "ms", al.P50MS))
	s.add(newFigure(s.Name, "check at a command's position p99", "ms", al.P99MS).against("SELECT 1 p99", sel.P99MS))
	s.add(newFigure(s.Name, "checks at a command's position answered wrong", "", float64(wrong)).target("= 0", wrong == 0))
	s.Errors = errs.Counts()
	s.add(newFigure(s.Name, "errors", "", float64(errs.Total())))
	s.Notes = append(s.Notes, fmt.Sprintf("%d properties of %d members each besides the owner: %d memberships; %d clients; bulk checks of %d; paced at %d/s from each check's planned moment",
		len(b.data.checkPIDs), checkMembersPer, len(b.data.checkPIDs)*(checkMembersPer+1), b.cfg.Clients, checkBulk, checkRate))
	return nil
}

// checkBodies encodes random single checks and bulk checks before the
// clock starts, so the load tool, on the same cores as the server, spends
// its time sending them.
func (b *bench) checkBodies() (singles, bulks [][]byte, err error) {
	singles = make([][]byte, 8192)
	for i := range singles {
		if singles[i], err = json.Marshal(b.randomCheck()); err != nil {
			return nil, nil, err
		}
	}
	bulks = make([][]byte, 512)
	for i := range bulks {
		items := make([]checkItem, checkBulk)
		for j := range items {
			items[j] = b.randomCheck()
		}
		if bulks[i], err = json.Marshal(map[string]any{"items": items}); err != nil {
			return nil, nil, err
		}
	}
	return singles, bulks, nil
}

// checkAfterCommands has checkTogglers owners disable and enable one
// member of their property, checking the member's access at each
// command's position as soon as it answers. An answer that does not see
// the command counts as wrong.
func (b *bench) checkAfterCommands(ctx context.Context, svc string, errs *Errors) (*Recorder, int, error) {
	tok, err := b.tokens.token(b.owner)
	if err != nil {
		return nil, 0, err
	}
	var lat Recorder
	var wrong atomic.Int64
	closedLoop(ctx, min(checkTogglers, len(b.data.checkPIDs)), b.cfg.Duration, func(ctx context.Context, w, i int) {
		pid, acc := b.data.checkPIDs[w], checkMember(w, 1).ID
		verb, may := "disable", false
		if i%2 == 1 {
			verb, may = "enable", true
		}
		cmd := b.c.do(ctx, "POST", "/v1/properties/"+pid+"/members/"+acc+"/"+verb, tok, nil)
		pos, ok := cmd.position()
		if cmd.Kind != "" || !ok {
			errs.Add(cmd.Kind)
			return
		}
		a := b.c.do(ctx, "POST", "/v1/access/check", svc, checkItem{AccountID: acc, PropertyID: pid, Permission: "respond_to_chats", AtLeast: pos.String()})
		lat.Record(a.Took)
		errs.Add(a.Kind)
		var got struct {
			Allowed  bool   `json:"allowed"`
			Position string `json:"position"`
		}
		if a.Kind != "" || a.decode(&got) != nil {
			return
		}
		at, err := eventstore.ParsePosition(got.Position)
		if got.Allowed != may || err != nil || at.Less(pos) {
			wrong.Add(1)
		}
	})
	// Leave every toggled member enabled for the next run.
	for w := range min(checkTogglers, len(b.data.checkPIDs)) {
		b.c.do(ctx, "POST", "/v1/properties/"+b.data.checkPIDs[w]+"/members/"+checkMember(w, 1).ID+"/enable", tok, nil)
	}
	return &lat, int(wrong.Load()), nil
}

// seedCheck makes the check scenario's properties, reusing those an
// earlier run finished (a marker property says it did), and sets
// b.data.checkPIDs.
func (b *bench) seedCheck(ctx context.Context, tok string, mine []propertyView, pos *positions) (step SeedStep, err error) {
	n := b.sizes.checkProps
	step.Name = "check properties"
	start := time.Now()
	defer func() { step.TookS = time.Since(start).Seconds() }()
	byName := map[string][]string{}
	for _, p := range mine {
		byName[p.Name] = append(byName[p.Name], p.ID)
	}
	marker := fmt.Sprintf("bench-check-%d-done", n)
	pids := make([]string, n)
	var todo []int
	for k := range n {
		for _, id := range byName[checkName(n, k)] {
			if len(byName[marker]) > 0 {
				pids[k] = id
				break
			}
			// An interrupted run: only a property it finished counts.
			if v, err := b.property(ctx, tok, id, ""); err == nil && v.MemberCount == checkMembersPer+1 {
				pids[k] = id
				break
			}
		}
		if pids[k] == "" {
			todo = append(todo, k)
		}
	}
	if len(todo) == 0 {
		b.data.checkPIDs = pids
		step.Reused = true
		step.Detail = fmt.Sprintf("%d properties of %d members each", n, checkMembersPer+1)
		return step, nil
	}
	b.progress("seed check: %d properties of %d members to make", len(todo), checkMembersPer+1)
	var done, requests atomic.Int64
	stop := b.ticker(ctx, "check properties", &done, len(todo))
	err = parallel(ctx, acceptClients, len(todo), func(ctx context.Context, i int) error {
		k := todo[i]
		pid, err := b.createProperty(ctx, pos, tok, checkName(n, k))
		if err != nil {
			return err
		}
		// The members come in one import, as a property moved over from
		// another system would: one request instead of an invitation and
		// an accept each.
		rows := make([]importRow, checkMembersPer)
		for j := range rows {
			m := checkMember(k, j)
			rows[j] = importRow{AccountID: m.ID, Email: m.Email, Role: map[bool]string{true: "admin", false: "agent"}[j == 0]}
		}
		if err := b.importMembers(ctx, pos, tok, pid, rows); err != nil {
			return err
		}
		pids[k] = pid
		requests.Add(2)
		done.Add(1)
		return nil
	})
	stop()
	step.Requests = int(requests.Load())
	step.Events = int(done.Load()) * (2 + checkMembersPer)
	if err != nil {
		return step, err
	}
	if _, err := b.createProperty(ctx, pos, tok, marker); err != nil {
		return step, err
	}
	b.data.checkPIDs = pids
	step.Detail = fmt.Sprintf("%d properties of %d members each, %d made in %s", n, checkMembersPer+1, len(todo), time.Since(start).Round(time.Millisecond))
	return step, nil
}
