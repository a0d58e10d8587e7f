package consumers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/feed"
)

// leasesChannel is the NOTIFY channel of released leases: the other
// instances wake at once rather than at their next heartbeat.
const leasesChannel = "roster_consumer_leases"

// alive is the SQL condition that instance i still has its heartbeat
// session: the PostgreSQL backend it registered is there. A process that
// died, or whose session was terminated, fails it at once.
const alive = `EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = i.backend_pid AND a.backend_start = i.backend_start)`

// leadership is an instance's part in the leases (docs/ARCHITECTURE.md
// section 9). A heartbeat, every third of the lease's TTL and on every
// release another instance announces, renews the leases this instance
// holds (a lease it finds taken over ends that consumer's handler here),
// hands back those above its fair share, ceil(consumers / live instances),
// so a new instance gets work, and claims free ones up to that share: a
// lease nobody holds, one that ran out, or one whose holder's heartbeat
// session is gone. Everything goes through a connection of its own, whose
// backend names the instance to the others; when it is lost the instance
// stops every consumer it led and joins again on a new one.
type leadership struct {
	c    *Consumers
	log  zerolog.Logger
	ttl  time.Duration
	tick time.Duration

	// crashed makes the end of Run leave the leases as a killed process
	// would: for tests of the takeover.
	crashed atomic.Bool
	// paused holds the heartbeat while it is not nil: for tests of a
	// stalled leader.
	paused atomic.Pointer[chan struct{}]
	// backend is the heartbeat connection's backend PID, for tests that
	// terminate it.
	backend atomic.Uint32
	// handlers is the context the handlers run under, set when run
	// starts: a projection leaving the group starts its own under it.
	handlers context.Context
}

func newLeadership(c *Consumers) *leadership {
	return &leadership{c: c, log: c.log, ttl: c.cfg.LeaseTTL, tick: c.cfg.LeaseTTL / 3}
}

// run takes part in the leadership until ctx ends, running the handlers
// of the consumers this instance leads under handlers, then stops them and
// gives their leases up.
func (l *leadership) run(ctx, handlers context.Context) {
	l.handlers = handlers
	for {
		conn, err := l.connect(ctx)
		if err == nil {
			err = l.session(ctx, handlers, conn)
		}
		l.endAll()
		if ctx.Err() != nil {
			l.resign(conn)
			if conn != nil {
				_ = conn.Close(context.Background())
			}
			return
		}
		if conn != nil {
			_ = conn.Close(context.Background())
		}
		l.log.Warn().Err(err).Msg("lost the leadership session; every consumer this instance led stopped, and it joins again")
		select {
		case <-ctx.Done():
			return
		case <-time.After(l.tick):
		}
	}
}

// connect opens the heartbeat connection and registers the instance on it.
func (l *leadership) connect(ctx context.Context) (*pgx.Conn, error) {
	cfg := l.c.cfg.Pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = "roster leadership " + l.c.cfg.Instance
	// An instance stopped in the middle of a claim or a renewal (SIGSTOP, a
	// frozen VM) would otherwise hold its lease rows locked for as long as
	// its idle connection lives, and the claims of the others skip locked
	// rows: the server ends such a session once it has sat in a transaction
	// for a lease's lifetime, so its leases can be taken over
	// (docs/ARCHITECTURE.md, section 9).
	cfg.RuntimeParams["idle_in_transaction_session_timeout"] = fmt.Sprint(max(l.ttl.Milliseconds(), 1))
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("leadership connection: %w", err)
	}
	l.backend.Store(conn.PgConn().PID())
	// Leases still under this ID are a former life's (a restart, or this
	// instance before it lost its session): they are given up first.
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if err := l.release(ctx, tx, "restart of "+l.c.cfg.Instance, "", 0); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO consumer_instances (id, backend_pid, backend_start)
			SELECT $1, pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()
			ON CONFLICT (id) DO UPDATE SET backend_pid = EXCLUDED.backend_pid, backend_start = EXCLUDED.backend_start,
				started_at = now(), heartbeat_at = now()`, l.c.cfg.Instance)
		return err
	})
	if err == nil {
		_, err = conn.Exec(ctx, "LISTEN "+leasesChannel)
	}
	if err != nil {
		_ = conn.Close(context.Background())
		return nil, fmt.Errorf("register instance %s: %w", l.c.cfg.Instance, err)
	}
	return conn, nil
}

// session beats until ctx ends (nil) or the connection fails (its error).
func (l *leadership) session(ctx, handlers context.Context, conn *pgx.Conn) error {
	for {
		if p := l.paused.Load(); p != nil {
			select {
			case <-*p:
			case <-ctx.Done():
				return nil
			}
		}
		if err := l.beat(ctx, handlers, conn); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if conn.IsClosed() {
				return err
			}
			l.log.Warn().Err(err).Msg("leadership heartbeat failed; trying again")
		}
		wait, cancel := context.WithTimeout(ctx, l.tick)
		_, err := conn.WaitForNotification(wait)
		cancel()
		switch {
		case ctx.Err() != nil:
			return nil
		case conn.IsClosed() && err == nil:
			return errors.New("leadership connection closed")
		case conn.IsClosed():
			return fmt.Errorf("leadership connection: %w", err)
		}
	}
}

// beat renews, hands back and claims leases (see leadership).
func (l *leadership) beat(ctx, handlers context.Context, conn *pgx.Conn) error {
	me := l.c.cfg.Instance
	tag, err := conn.Exec(ctx, `UPDATE consumer_instances SET heartbeat_at = now() WHERE id = $1`, me)
	if err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	if tag.RowsAffected() == 0 {
		// Another process registered under this ID since: nothing this
		// one holds is safe, so it joins again.
		_ = conn.Close(ctx)
		return fmt.Errorf("instance %s was registered again by another process", me)
	}
	if err := l.renew(ctx, conn); err != nil {
		return err
	}

	names := l.c.Names()
	var live int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM consumer_instances i
		WHERE i.heartbeat_at > now() - $1 * interval '1 millisecond' AND `+alive, l.ttl.Milliseconds()).Scan(&live); err != nil {
		return fmt.Errorf("count live instances: %w", err)
	}
	l.c.live.Store(int64(live))
	share := (len(names) + max(live, 1) - 1) / max(live, 1)
	held := l.c.leading()
	if extra := len(held) - share; extra > 0 {
		l.handBack(ctx, conn, held, extra)
		return nil
	}
	if len(held) >= share {
		return nil
	}
	return l.claim(ctx, handlers, conn, names, held, share-len(held))
}

// renew extends every lease this instance holds; a consumer whose lease
// it no longer holds (another instance took it over while this one
// stalled) stops here.
func (l *leadership) renew(ctx context.Context, conn *pgx.Conn) error {
	held := l.c.leading()
	if len(held) == 0 {
		return nil
	}
	names, epochs := make([]string, 0, len(held)), make([]int64, 0, len(held))
	for n, e := range held {
		names, epochs = append(names, n), append(epochs, e)
	}
	start := time.Now()
	rows, err := conn.Query(ctx, `UPDATE consumer_leases l
		SET renewed_at = now(), expires_at = now() + $4 * interval '1 millisecond'
		FROM unnest($2::text[], $3::bigint[]) AS t(consumer, epoch)
		WHERE l.consumer = t.consumer AND l.epoch = t.epoch AND l.holder = $1
		RETURNING l.consumer`, l.c.cfg.Instance, names, epochs, l.ttl.Milliseconds())
	if err != nil {
		return fmt.Errorf("renew leases: %w", err)
	}
	kept, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("renew leases: %w", err)
	}
	for _, n := range names {
		t := l.c.term(n)
		if t == nil {
			continue
		}
		if slices.Contains(kept, n) {
			t.renewed(start)
			continue
		}
		l.log.Warn().Str("consumer", n).Int64("epoch", t.epoch).Msg("lost the lease: another instance took the consumer over; stopping it here")
		l.endTerm(t)
	}
	return nil
}

// claim takes up to n of the free leases of names (held excepted), in
// one statement, and starts their handlers. A lease is free when nobody
// holds it, it ran out, or its holder's heartbeat session is gone; one
// locked by a transaction in progress (the old leader's last write, which
// holds it FOR KEY SHARE) is skipped until the next heartbeat, so the
// takeover comes after that write and never waits for it. Random order
// keeps instances claiming at once mostly apart.
func (l *leadership) claim(ctx, handlers context.Context, conn *pgx.Conn, names []string, held map[string]int64, n int) error {
	me := l.c.cfg.Instance
	want := make([]string, 0, len(names))
	for _, name := range names {
		if _, ok := held[name]; !ok {
			want = append(want, name)
		}
	}
	start := time.Now()
	type took struct {
		consumer, prev string
		epoch          int64
		since          time.Time
	}
	var got []took
	// Repeatable read: the leases, the instances and the history are read
	// at one moment. Under read committed a lease claimed by another
	// instance just now would be locked in its new version and judged by
	// the instances as they were before that instance's registration; here
	// it fails the claim (40001), which the next heartbeat tries again.
	err := pgx.BeginTxFunc(ctx, conn, pgx.TxOptions{IsoLevel: pgx.RepeatableRead}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO consumer_leases (consumer) SELECT unnest($1::text[])
			ON CONFLICT (consumer) DO NOTHING`, want); err != nil {
			return err
		}
		// One moment, at, ends the old term and begins the new.
		rows, err := tx.Query(ctx, `WITH free AS (
				SELECT l.consumer, l.epoch, l.holder, clock_timestamp() AS at FROM consumer_leases l
				LEFT JOIN consumer_instances i ON i.id = l.holder
				WHERE l.consumer = ANY($1)
					AND (l.holder = '' OR l.expires_at <= clock_timestamp() OR i.id IS NULL OR NOT `+alive+`)
				ORDER BY random() LIMIT $2
				FOR UPDATE OF l SKIP LOCKED),
			ended AS (
				UPDATE consumer_leadership d SET ended_at = f.at, ended_by = 'taken over by ' || $3
				FROM free f WHERE d.consumer = f.consumer AND d.epoch = f.epoch AND d.ended_at IS NULL),
			took AS (
				UPDATE consumer_leases l SET holder = $3, epoch = l.epoch + 1, acquired_at = f.at,
					renewed_at = f.at, expires_at = f.at + $4 * interval '1 millisecond'
				FROM free f WHERE l.consumer = f.consumer
				RETURNING l.consumer, l.epoch, l.acquired_at, f.holder AS prev),
			logged AS (
				INSERT INTO consumer_leadership (consumer, epoch, holder, acquired_at)
				SELECT consumer, epoch, $3, acquired_at FROM took)
			SELECT consumer, prev, epoch, acquired_at FROM took`, want, n, me, l.ttl.Milliseconds())
		if err != nil {
			return err
		}
		got, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (took, error) {
			var t took
			err := row.Scan(&t.consumer, &t.prev, &t.epoch, &t.since)
			return t, err
		})
		return err
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "40001" { // serialization_failure
		return nil
	}
	if err != nil {
		return fmt.Errorf("claim leases: %w", err)
	}
	for _, t := range got {
		if t.prev != "" && t.prev != me {
			l.log.Info().Str("consumer", t.consumer).Str("from", t.prev).Msg("taking the consumer over")
		}
		l.startTerm(handlers, t.consumer, t.epoch, t.since, start)
	}
	// The projections claimed join the group at once, in one restart.
	l.c.group.sync(handlers)
	return nil
}

// startTerm runs the handler of name for the lease epoch acquired at since
// (start is when the claim was sent, by this process's clock).
func (l *leadership) startTerm(handlers context.Context, name string, epoch int64, since, start time.Time) {
	c := l.c
	c.mu.Lock()
	s := c.byName[name]
	c.mu.Unlock()
	t := &term{consumer: name, holder: c.cfg.Instance, epoch: epoch, ttl: l.ttl, since: since, projection: s.projection}
	t.renewed(start)
	if s.projection != nil {
		c.mu.Lock()
		c.terms[name] = t
		c.mu.Unlock()
		l.c.group.join(t, s.open)
		l.log.Info().Str("consumer", name).Int64("epoch", epoch).Time("since", since).Msg("leading the consumer")
		return
	}
	t.handler = l.newHandler(t, s, name+"@"+strconv.FormatInt(epoch, 10))
	c.mu.Lock()
	c.terms[name] = t
	c.mu.Unlock()
	if err := c.router.RunHandlers(handlers); err != nil {
		// Only a decorator fails here, and this router has none; the
		// lease, no longer renewed, runs out.
		l.log.Error().Err(err).Str("consumer", name).Msg("cannot run the consumer's handler")
		c.mu.Lock()
		delete(c.terms, name)
		c.mu.Unlock()
		return
	}
	if s.work != nil {
		t.startWork(handlers, s.work)
	}
	l.log.Info().Str("consumer", name).Int64("epoch", epoch).Time("since", since).Msg("leading the consumer")
}

// newHandler adds to the router, under the name handler, the handler of
// t's consumer, following the feed from its checkpoint; wrap, when not
// nil, wraps it outermost.
func (l *leadership) newHandler(t *term, s *spec, handler string, wrap ...message.HandlerMiddleware) *message.Handler {
	fn := chain(s.build(t), wrap...)
	sub := resubscribing{sub: l.c.sub, backoff: l.c.cfg.NackBackoff, log: func(err error) {
		l.log.Warn().Err(err).Str("consumer", t.consumer).Msg("cannot follow the feed; trying again")
	}}
	return l.c.router.AddConsumerHandler(handler, t.consumer, sub,
		func(msg *message.Message) error { _, err := fn(msg); return err })
}

// runAlone runs t's projection with a handler of its own, outside the
// group, as every projection ran before the group, with its retries and
// StopOnPoison. With past set, the projection rejoins the group once its
// handler applied a message that ends at or after past (the batch it left
// the group on); otherwise it runs alone until its term ends.
func (l *leadership) runAlone(t *term, past *eventstore.Position) {
	s := l.c.byNameSpec(t.consumer)
	t.hmu.Lock()
	defer t.hmu.Unlock()
	if t.ending || t.handler != nil {
		return
	}
	var wrap []message.HandlerMiddleware
	if past != nil {
		wrap = append(wrap, l.rejoinPast(t, *past))
	}
	t.alone++
	t.handler = l.newHandler(t, s, fmt.Sprintf("%s@%d.%d", t.consumer, t.epoch, t.alone), wrap...)
	if err := l.c.router.RunHandlers(l.handlers); err != nil {
		l.log.Error().Err(err).Str("consumer", t.consumer).Msg("cannot run the consumer's handler")
	}
}

// rejoinPast is the middleware that brings t back into the group once a
// message ending at or after past was applied.
func (l *leadership) rejoinPast(t *term, past eventstore.Position) message.HandlerMiddleware {
	var once sync.Once
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			out, err := h(msg)
			if last, _ := feed.LastPosition(msg); err == nil && !last.Less(past) {
				once.Do(func() {
					l.c.group.wg.Go(func() { l.rejoin(t) })
				})
			}
			return out, err
		}
	}
}

// rejoin stops the handler t runs alone and puts it back into the group.
func (l *leadership) rejoin(t *term) {
	t.hmu.Lock()
	h := t.handler
	if t.ending || h == nil {
		t.hmu.Unlock()
		return
	}
	t.handler = nil
	t.hmu.Unlock()
	h.Stop()
	<-h.Stopped()
	t.hmu.Lock()
	if t.ending {
		t.hmu.Unlock()
		return
	}
	l.c.group.join(t, l.c.byNameSpec(t.consumer).open)
	t.hmu.Unlock()
	l.log.Info().Str("consumer", t.consumer).Int64("epoch", t.epoch).Msg("the projection rejoins the group")
	l.c.group.sync(l.handlers)
}

// endTerm stops t's handler and forgets the term; the lease is left as it
// is.
func (l *leadership) endTerm(t *term) {
	t.end()
	if t.projection != nil {
		l.c.group.prune()
	}
	l.c.mu.Lock()
	if l.c.terms[t.consumer] == t {
		delete(l.c.terms, t.consumer)
	}
	l.c.mu.Unlock()
	l.c.metrics.forget(t.consumer)
	l.log.Info().Str("consumer", t.consumer).Int64("epoch", t.epoch).Msg("stopped leading the consumer")
}

// endAll stops every handler this instance runs.
func (l *leadership) endAll() {
	l.c.mu.Lock()
	ts := make([]*term, 0, len(l.c.terms))
	for _, t := range l.c.terms {
		ts = append(ts, t)
	}
	l.c.mu.Unlock()
	for _, t := range ts {
		l.endTerm(t)
	}
}

// handBack stops n of the consumers held (the last acquired) and gives
// their leases up, for instances below their share to claim.
func (l *leadership) handBack(ctx context.Context, conn *pgx.Conn, held map[string]int64, n int) {
	var ts []*term
	for name := range held {
		if t := l.c.term(name); t != nil {
			ts = append(ts, t)
		}
	}
	slices.SortFunc(ts, func(a, b *term) int { return b.since.Compare(a.since) })
	for _, t := range ts[:min(n, len(ts))] {
		l.endTerm(t)
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			return l.release(ctx, tx, "handed back by "+l.c.cfg.Instance, t.consumer, t.epoch)
		})
		if err != nil {
			l.log.Warn().Err(err).Str("consumer", t.consumer).Msg("cannot hand the lease back; it runs out instead")
			continue
		}
		l.log.Info().Str("consumer", t.consumer).Msg("handed the consumer back for another instance")
	}
}

// resign gives up every lease of this instance and its registration, at
// the end of Run, so the others take over at once: on the heartbeat
// connection, or through the pool when the end of Run broke it off. A
// crashed instance (tests) leaves them.
func (l *leadership) resign(conn *pgx.Conn) {
	if l.crashed.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var db interface {
		Begin(ctx context.Context) (pgx.Tx, error)
	} = l.c.cfg.Pool
	if conn != nil && !conn.IsClosed() {
		db = conn
	}
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if err := l.release(ctx, tx, "stop of "+l.c.cfg.Instance, "", 0); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM consumer_instances WHERE id = $1`, l.c.cfg.Instance)
		return err
	})
	if err != nil {
		l.log.Warn().Err(err).Msg("cannot hand the leases over; they run out instead")
	}
}

// release gives up, in tx, this instance's lease of consumer under epoch,
// or every lease it holds when consumer is empty, ends their leadership for
// why, and tells the other instances.
func (l *leadership) release(ctx context.Context, tx pgx.Tx, why, consumer string, epoch int64) error {
	_, err := tx.Exec(ctx, `WITH released AS (
			UPDATE consumer_leases SET holder = '', expires_at = clock_timestamp()
			WHERE holder = $1 AND ($2 = '' OR (consumer = $2 AND epoch = $3)) RETURNING consumer, epoch)
		UPDATE consumer_leadership d SET ended_at = clock_timestamp(), ended_by = $4
		FROM released r WHERE d.consumer = r.consumer AND d.epoch = r.epoch AND d.ended_at IS NULL`,
		l.c.cfg.Instance, consumer, epoch, why)
	if err != nil {
		return fmt.Errorf("release leases: %w", err)
	}
	_, err = tx.Exec(ctx, `SELECT pg_notify($1, $2)`, leasesChannel, l.c.cfg.Instance)
	return err
}
