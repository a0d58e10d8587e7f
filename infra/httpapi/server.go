// Package httpapi serves Roster's HTTP API with
// gorilla/mux: commands go to the command handlers, queries to the read
// models, and every error leaves through writeError.
package httpapi

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/commands"
	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/outage"
)

// Pinger reports whether a dependency answers, for /readyz.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Dependency is one thing /readyz asks, under the name its answer gives.
type Dependency struct {
	// Name is what an operator knows it by: "postgresql", "eventstoredb".
	Name string
	Pinger
}

// Config is what the API is built from.
type Config struct {
	// Commands handles every write.
	Commands commands.Handlers
	// Reads answers every query.
	Reads ReadModels
	// Authenticate checks bearer tokens.
	Authenticate Authenticator
	// Ready lists what must answer for /readyz to say ready.
	Ready []Dependency
	// Detail lists what /readyz asks, once ready, for what works degraded.
	Detail []Detailer
	// Log receives request and error logs.
	Log zerolog.Logger
	// MaxWait bounds how long a query waits for Roster-Min-Position (2s when zero).
	MaxWait time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Metrics serves GET /metrics in Prometheus' text format; the default
	// registry's handler when nil.
	Metrics http.Handler
	// Privacy is the operator-only API that forgets people.
	Privacy PrivacyConfig
	// Chain verifies properties' histories and signs their heads; without
	// it the chain routes answer 500.
	Chain ChainAuditor
	// History answers as_of queries and the access review from the events;
	// without it they answer 500.
	History HistoryReader
	// SignIn is how the dashboard signs people in.
	SignIn SignInConfig
	// Dashboard is the Property Members page, served at / and /accept
	// with its files under /assets/; without it those answer 404.
	Dashboard Dashboard
	// Checks is the access-check API the platform's services call.
	Checks CheckConfig
	// Deliveries is the webhook endpoints' delivery log; without it its
	// routes answer 500.
	Deliveries WebhookDeliveries
	// LongReads bounds audit exports, as_of queries and access reviews,
	// per account and in total; zero fields take the defaults.
	LongReads LongReadLimits
	// Limits bounds writes: invitations, commands, refused tokens.
	Limits Limits
}

type server struct {
	cmd     commands.Handlers
	reads   ReadModels
	privacy PrivacyConfig
	chain   ChainAuditor
	history HistoryReader
	ready   []Dependency
	detail  []Detailer
	maxWait time.Duration
	now     func() time.Time
	checks  CheckConfig
	// deliveries is the webhook endpoints' delivery log.
	deliveries WebhookDeliveries
	// longReads counts the exports, as_of queries and reviews running.
	longReads *longReads
	limits    Limits
	// direct are the routes served before the router looks (see direct).
	direct map[string]directRoute
}

// New returns the API's handler.
func New(c Config) http.Handler {
	s := &server{cmd: c.Commands, reads: c.Reads, history: c.History, ready: c.Ready, detail: c.Detail, maxWait: c.MaxWait, now: c.Now}
	s.chain = c.Chain
	s.deliveries = c.Deliveries
	s.privacy = c.Privacy
	s.longReads = newLongReads(c.LongReads)
	s.limits = c.Limits
	if s.maxWait <= 0 {
		s.maxWait = 2 * time.Second
	}
	if s.now == nil {
		s.now = time.Now
	}
	r := mux.NewRouter()
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, domain.Errorf(kindNoRoute, codeRouteNotFound, "no route %s %s", r.Method, r.URL.Path))
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Allow", strings.Join(allowedMethods(r, req), ", "))
		writeError(w, req, domain.Errorf(kindBadMethod, codeMethodNotAllowed, "%s is not allowed on %s", req.Method, req.URL.Path))
	})
	r.HandleFunc("/healthz", s.healthz).Methods(http.MethodGet)
	r.HandleFunc("/readyz", s.readyz).Methods(http.MethodGet)
	metrics := c.Metrics
	if metrics == nil {
		metrics = promhttp.Handler()
	}
	r.Handle("/metrics", noStore(metrics)).Methods(http.MethodGet)

	// Routes sit on the root router with authentication wrapped around each:
	// a /v1 subrouter would answer 404 for a wrong method (gorilla/mux#751).
	v1 := routes{r: r, auth: authenticate(c.Authenticate, c.Limits.TokenFailures), commands: c.Limits.Commands}
	s.registerPropertyRoutes(v1)
	s.registerInvitationRoutes(v1)
	s.registerPolicyRoutes(v1)
	s.registerRoleRoutes(v1)
	s.registerMemberRoutes(v1)
	s.registerWebhookRoutes(v1)
	s.registerWebhookDeliveryRoutes(v1)
	s.registerMeRoutes(v1)
	s.registerNotificationRoutes(v1)
	s.registerAuditRoutes(v1)
	s.registerAccessRoutes(v1)
	s.registerHistoryRoutes(v1)
	s.registerChainRoutes(v1)
	s.registerReviewRoutes(v1)
	s.registerPrivacyRoutes(v1)
	s.registerCheckRoutes(v1, c.Checks)
	s.registerSignInRoutes(r, v1, c.SignIn)
	registerPageRoutes(r, c.Dashboard)
	registerOpenAPIRoute(r)

	var h http.Handler = direct(s.direct, r)
	h = checkEdge(h)
	h = recoverer(h)
	h = accessLog(h)
	h = withRequestID(c.Log)(h)
	return h
}

// routes registers authenticated /v1 routes.
type routes struct {
	r    *mux.Router
	auth func(http.Handler) http.Handler
	// commands limits the commands per account; nil limits none.
	commands KeyLimiter
}

func (rt routes) handle(method, path string, h http.HandlerFunc) {
	rt.r.Handle("/v1"+path, rt.auth(limitCommands(rt.commands, method, h))).Methods(method)
}

// allowedMethods lists the methods some route accepts on req's path, for
// the Allow header of a 405.
func allowedMethods(r *mux.Router, req *http.Request) []string {
	var allowed []string
	_ = r.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		methods, err := route.GetMethods()
		if err != nil {
			return nil
		}
		for _, m := range methods {
			probe := req.Clone(req.Context())
			probe.Method = m
			var match mux.RouteMatch
			if route.Match(probe, &match) && match.MatchErr == nil && !slices.Contains(allowed, m) {
				allowed = append(allowed, m)
			}
		}
		return nil
	})
	return allowed
}

func (s *server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 when every dependency answers within two seconds,
// and otherwise 503 not_ready naming each that did not, with Retry-After.
// Why one failed goes to the log only: /readyz needs no token, and a
// driver's message names hosts and users.
func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	var failed []domain.Problem
	var names []string
	for _, d := range s.ready {
		if err := d.Ping(ctx); err != nil {
			zerolog.Ctx(r.Context()).Warn().Err(err).Str("dependency", d.Name).Msg("not ready")
			why := "failed its check"
			if outage.Is(err) || errors.Is(err, context.DeadlineExceeded) {
				why = "cannot be reached"
			}
			failed = append(failed, domain.Problem{Index: -1, Field: d.Name, Code: domain.CodeUnavailable, Message: why})
			names = append(names, d.Name+" "+why)
		}
	}
	if len(failed) > 0 {
		writeError(w, r, &domain.Error{Kind: domain.KindUnavailable, Code: domain.CodeNotAvailable, RetryAfter: outage.RetryAfter,
			Message: "not ready: " + strings.Join(names, "; "), Problems: failed})
		return
	}
	s.writeReady(ctx, w)
}

// noStore marks h's answers as not to be cached: metrics are of the moment.
func noStore(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}
