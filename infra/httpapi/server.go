// Package httpapi serves Roster's HTTP API (DESIGN section 5) with
// gorilla/mux: commands go to the command handlers, queries to the read
// models, and every error leaves through writeError.
package httpapi

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/commands"
	"github.com/rosterhq/roster/domain"
)

// Pinger reports whether a dependency answers, for /readyz.
type Pinger interface {
	Ping(ctx context.Context) error
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
	Ready []Pinger
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
}

type server struct {
	cmd     commands.Handlers
	reads   ReadModels
	privacy PrivacyConfig
	chain   ChainAuditor
	history HistoryReader
	ready   []Pinger
	maxWait time.Duration
	now     func() time.Time
}

// New returns the API's handler.
func New(c Config) http.Handler {
	s := &server{cmd: c.Commands, reads: c.Reads, history: c.History, ready: c.Ready, maxWait: c.MaxWait, now: c.Now}
	s.chain = c.Chain
	s.privacy = c.Privacy
	if s.maxWait <= 0 {
		s.maxWait = 2 * time.Second
	}
	if s.now == nil {
		s.now = time.Now
	}
	r := mux.NewRouter()
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, domain.Errorf(domain.KindNoRoute, domain.CodeRouteNotFound, "no route %s %s", r.Method, r.URL.Path))
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Allow", strings.Join(allowedMethods(r, req), ", "))
		writeError(w, req, domain.Errorf(domain.KindBadMethod, domain.CodeMethodNotAllowed, "%s is not allowed on %s", req.Method, req.URL.Path))
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
	v1 := routes{r: r, auth: authenticate(c.Authenticate)}
	s.registerPropertyRoutes(v1)
	s.registerInvitationRoutes(v1)
	s.registerMemberRoutes(v1)
	s.registerMeRoutes(v1)
	s.registerNotificationRoutes(v1)
	s.registerAuditRoutes(v1)
	s.registerAccessRoutes(v1)
	s.registerHistoryRoutes(v1)
	s.registerChainRoutes(v1)
	s.registerReviewRoutes(v1)
	s.registerPrivacyRoutes(v1)
	registerOpenAPIRoute(r)

	var h http.Handler = r
	h = recoverer(h)
	h = accessLog(h)
	h = withRequestID(c.Log)(h)
	return h
}

// routes registers authenticated /v1 routes.
type routes struct {
	r    *mux.Router
	auth func(http.Handler) http.Handler
}

func (rt routes) handle(method, path string, h http.HandlerFunc) {
	rt.r.Handle("/v1"+path, rt.auth(h)).Methods(method)
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

func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	for _, p := range s.ready {
		if err := p.Ping(ctx); err != nil {
			writeError(w, r, domain.Errorf(domain.KindUnavailable, domain.CodeNotAvailable, "not ready: %v", err))
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// noStore marks h's answers as not to be cached: metrics are of the moment.
func noStore(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}
