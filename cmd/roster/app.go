package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/rosterhq/roster/commands"
	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/accessindex"
	"github.com/rosterhq/roster/infra/auth"
	"github.com/rosterhq/roster/infra/broker"
	"github.com/rosterhq/roster/infra/chain"
	"github.com/rosterhq/roster/infra/config"
	"github.com/rosterhq/roster/infra/consumers"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/esdb"
	"github.com/rosterhq/roster/infra/eventstore/memory"
	"github.com/rosterhq/roster/infra/eventstore/postgres"
	"github.com/rosterhq/roster/infra/expiry"
	"github.com/rosterhq/roster/infra/feed"
	"github.com/rosterhq/roster/infra/httpapi"
	"github.com/rosterhq/roster/infra/invitetoken"
	"github.com/rosterhq/roster/infra/mail"
	"github.com/rosterhq/roster/infra/privacy"
	"github.com/rosterhq/roster/infra/webhooks"
	"github.com/rosterhq/roster/migrations"
	"github.com/rosterhq/roster/projections"
	"github.com/rosterhq/roster/readmodels"
)

// App is a running Roster: the API, the command handlers and the projectors
// over one event store and one PostgreSQL database.
type App struct {
	log       zerolog.Logger
	pool      *pgxpool.Pool
	store     eventStore
	consumers *consumers.Consumers
	handler   http.Handler
	vault     *privacy.Vault
	commands  commands.Handlers
	// closers are the consumers' own connections, closed before the pool.
	closers []io.Closer
	// mail sends the invitation mails the consumers record.
	mail *mail.Dispatcher
	// webhooks sends the webhook deliveries the consumers queue.
	webhooks *webhooks.Webhooks
	// index answers the access-check API; every instance keeps its own.
	index *accessindex.Index
}

// NewApp connects to PostgreSQL, applies the migrations and wires every part.
// Errors name the part that failed; nothing is left open on error.
func NewApp(ctx context.Context, cfg config.Config, log zerolog.Logger) (*App, error) {
	if cfg.InstanceID == "" {
		cfg.InstanceID = consumers.DefaultInstance()
	}
	// The instance's sessions carry its ID, so an operator (or a test)
	// tells whose they are in pg_stat_activity.
	pool, err := openPoolAs(ctx, cfg.PGURL, "roster "+cfg.InstanceID)
	if err != nil {
		return nil, err
	}
	app, err := wire(ctx, cfg, log, pool)
	if err != nil {
		pool.Close()
		return nil, err
	}
	return app, nil
}

func wire(ctx context.Context, cfg config.Config, log zerolog.Logger, pool *pgxpool.Pool) (*App, error) {
	if _, err := migrations.Apply(ctx, pool); err != nil {
		return nil, err
	}
	store, err := openEventStore(cfg, pool)
	if err != nil {
		return nil, err
	}
	signIn, jwksURL, err := dashboardSignIn(ctx, cfg)
	if err != nil {
		return nil, err
	}
	verifier, err := auth.NewVerifier(ctx, auth.VerifierConfig{Secret: []byte(cfg.JWTSecret), JWKSURL: jwksURL,
		Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience, Leeway: 30 * time.Second, MaxLifetime: cfg.JWTMaxLifetime})
	if err != nil {
		return nil, fmt.Errorf("token verification: %w", err)
	}
	page, err := dashboardPage(signIn)
	if err != nil {
		return nil, err
	}
	// Personal fields of events are sealed under a key per person; the
	// vault's keys live in PostgreSQL whichever store holds the events.
	vault := privacy.NewVault(pool, privacy.WithLogger(log))
	handlers := commands.New(commands.Config{
		Store: store, InviteTTL: cfg.InviteTTL, Tokens: invitetoken.New(cfg.InvitationKey()), Vault: vault,
		WebhookSecrets: webhooks.NewSecrets(cfg.WebhookKey()),
		WebhookRules:   domain.WebhookRules{KnownTypes: broker.PublicTypes(), AllowHTTP: cfg.WebhookAllowHTTP},
	})
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	subs, err := consumers.New(consumers.Config{Pool: pool, Feed: store, Log: log, Registerer: reg,
		Instance: cfg.InstanceID, LeaseTTL: cfg.LeaseTTL})
	if err != nil {
		return nil, err
	}
	// The stopped projections are read from the database: every instance
	// tells the same, whichever leads them.
	if err := reg.Register(&stoppedMetrics{pool: pool, projections: subs.ProjectionNames}); err != nil {
		return nil, fmt.Errorf("register projection metrics: %w", err)
	}
	// Projections open sealed personal fields inside their own transaction,
	// so a forget cannot scrub while a batch still writes plaintext.
	subs.SetOpener(vault)
	for _, p := range projections.All() {
		subs.AddProjection(p)
	}
	mailer, err := newMailer(cfg, pool, log)
	if err != nil {
		return nil, err
	}
	// The consumers that are no projection take the feed in batches too
	// (docs/ARCHITECTURE.md section 9): one event per message kept them
	// far behind the projections after a burst.
	subs.AddPersistent("mail", mailer.consumer.Handle, consumers.InBatches(0))
	hooks, err := newWebhooks(cfg, pool, handlers, log)
	if err != nil {
		return nil, err
	}
	// Never poisoned: a database away delays deliveries, it does not lose them.
	subs.AddPersistent("webhooks", hooks.Handle, consumers.InBatches(0))
	ends, err := newExpiry(cfg, pool, handlers, log)
	if err != nil {
		return nil, err
	}
	subs.AddWithWork(expiry.Name, ends.Handle, ends.Run, consumers.InBatches(0))
	var closers []io.Closer
	if cfg.BrokerURL != "" {
		fwd, err := broker.NewForwarder(broker.Config{URL: cfg.BrokerURL}, feed.Logger(log))
		if err != nil {
			return nil, fmt.Errorf("broker: %w", err)
		}
		subs.Add("broker", fwd.Handle, true)
		closers = append(closers, fwd)
	}
	auditKey, err := cfg.AuditKey()
	if err != nil {
		return nil, err
	}
	var signer *chain.Signer
	if auditKey != nil {
		if signer, err = chain.NewSigner(auditKey, nil); err != nil {
			return nil, fmt.Errorf("audit signing key: %w", err)
		}
	}
	// Snapshots of the fold keep as-of answers and reviews from replaying
	// whole streams (section 8 of docs/ARCHITECTURE.md).
	history := readmodels.NewHistory(readmodels.HistoryConfig{Events: store, Opener: vault, Pool: pool,
		Log: log.With().Str("component", "history").Logger()})
	rm := readmodels.New(pool)
	index, err := newAccessIndex(cfg, rm, store, log, reg)
	if err != nil {
		return nil, err
	}
	writeLimits, err := newLimits(cfg, pool, subs, reg)
	if err != nil {
		return nil, err
	}
	api := httpapi.New(httpapi.Config{
		// The chain covers events as stored, sealed: the auditor reads the
		// store itself, never through the vault.
		Chain: chain.NewAuditor(store, signer),
		Metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg,
			// A consumer's lag can take long to count on a big backlog;
			// memory and the other metrics must still be served then.
			ErrorHandling: promhttp.ContinueOnError}),
		Commands:     handlers,
		Reads:        rm,
		History:      history,
		Privacy:      httpapi.PrivacyConfig{Forgetter: vault, Operators: cfg.Operators},
		Authenticate: personAuthenticator(verifier, cfg.CheckScope),
		Checks:       checkAPI(cfg, verifier, index, rm),
		Ready:        readiness(pool, store),
		Detail:       []httpapi.Detailer{stoppedDetail{pool: pool}},
		Log:          log,
		SignIn:       signIn,
		Dashboard:    page,
		Deliveries:   hooks,
		LongReads:    httpapi.LongReadLimits{PerCaller: cfg.LongReadsPerCaller, Total: cfg.LongReadsTotal},
		Limits:       writeLimits,
	})
	return &App{log: log, pool: pool, store: store, handler: api, consumers: subs, closers: closers,
		vault: vault, commands: handlers, mail: mailer.dispatcher, webhooks: hooks, index: index}, nil
}

// Handler is the HTTP API.
func (a *App) Handler() http.Handler { return a.handler }

// Consumers is the router of the feed's consumers, for plugging in more
// with Add before Run.
func (a *App) Consumers() *consumers.Consumers { return a.consumers }

// Run serves the API on ln and runs the feed's consumers (the projectors
// among them) until ctx ends, then shuts the server down gracefully and
// closes the router. Call it once.
func (a *App) Run(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: a.handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return a.consumers.Run(ctx) })
	g.Go(func() error { return a.mail.Run(ctx) })
	g.Go(func() error { return a.webhooks.Run(ctx) })
	g.Go(func() error { return a.index.Run(ctx) })
	// A forget in any process destroys a key; the states the command side
	// keeps may hold that person's data in the clear, so they go too.
	g.Go(func() error { return a.vault.Watch(ctx, a.commands.Flush) })
	g.Go(func() error {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http server: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return srv.Shutdown(shutdown)
	})
	return g.Wait()
}

// Close releases the consumers' connections (the broker's), the event
// store's connection when it has its own, and the database pool.
func (a *App) Close() {
	for _, c := range a.closers {
		if err := c.Close(); err != nil {
			a.log.Warn().Err(err).Msg("closing a consumer")
		}
	}
	if c, ok := a.store.(io.Closer); ok {
		if err := c.Close(); err != nil {
			a.log.Warn().Err(err).Msg("closing the event store")
		}
	}
	a.pool.Close()
}

// readiness lists what /readyz asks: PostgreSQL, and the event store when it
// is a server of its own that can be asked (EventStoreDB).
func readiness(pool *pgxpool.Pool, store eventStore) []httpapi.Dependency {
	ready := []httpapi.Dependency{{Name: "postgresql", Pinger: pool}}
	if p, ok := store.(httpapi.Pinger); ok {
		ready = append(ready, httpapi.Dependency{Name: "eventstoredb", Pinger: p})
	}
	return ready
}

// eventStore is what the App needs of its event store: the command side
// appends and reads streams, the projections subscribe to the feed, and
// operators' tools read it whole.
type eventStore interface {
	commands.EventStore
	projections.Feed
	eventstore.FeedReader
}

func openEventStore(cfg config.Config, pool *pgxpool.Pool) (eventStore, error) {
	switch cfg.EventStore {
	case config.EventStorePostgres:
		return postgres.New(pool), nil
	case config.EventStoreESDB:
		// Events go to EventStoreDB; read models and their checkpoints
		// stay in PostgreSQL. The client connects on first use.
		store, err := esdb.Open(cfg.ESDBURL, esdb.Config{})
		if err != nil {
			return nil, fmt.Errorf("event store: %w", err)
		}
		return store, nil
	case config.EventStoreMemory:
		// Events vanish with the process while the read models stay in
		// PostgreSQL: for trying things out, never for keeping data.
		return memory.New(), nil
	}
	return nil, fmt.Errorf("event store %q is not available in this build (postgres, esdb, memory)", cfg.EventStore)
}

// defaultPoolSize is the PostgreSQL pool's size when the URL does not say.
const defaultPoolSize = 40

func openPool(ctx context.Context, url string) (*pgxpool.Pool, error) {
	return openPoolAs(ctx, url, "roster")
}

// openPoolAs is openPool whose sessions are named app (application_name)
// unless the URL names them.
func openPoolAs(ctx context.Context, url, app string) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgresql: %w", err)
	}
	if _, ok := pc.ConnConfig.RuntimeParams["application_name"]; !ok {
		pc.ConnConfig.RuntimeParams["application_name"] = app
	}
	// pgxpool's default, the number of CPUs (at least 4), starves the API
	// under concurrent commands: every projection, consumer and request
	// holds a connection while it works. A URL may still set pool_max_conns.
	if !strings.Contains(url, "pool_max_conns") {
		pc.MaxConns = defaultPoolSize
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("postgresql: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgresql at %s does not answer: %w", redactURL(url), err)
	}
	return pool, nil
}
