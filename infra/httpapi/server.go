// Package httpapi serves Roster's HTTP API (DESIGN section 5) with
// gorilla/mux: commands go to the command handlers, queries to the read
// models, and every error leaves through writeError.
package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/gorilla/mux"
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
}

type server struct {
	cmd     commands.Handlers
	reads   ReadModels
	ready   []Pinger
	maxWait time.Duration
	now     func() time.Time
}

// New returns the API's handler.
func New(c Config) http.Handler {
	s := &server{cmd: c.Commands, reads: c.Reads, ready: c.Ready, maxWait: c.MaxWait, now: c.Now}
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
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, domain.Errorf(domain.KindBadMethod, domain.CodeMethodNotAllowed, "%s is not allowed on %s", r.Method, r.URL.Path))
	})
	r.HandleFunc("/healthz", s.healthz).Methods(http.MethodGet)
	r.HandleFunc("/readyz", s.readyz).Methods(http.MethodGet)

	v1 := r.PathPrefix("/v1").Subrouter()
	v1.Use(authenticate(c.Authenticate))
	s.registerPropertyRoutes(v1)
	s.registerInvitationRoutes(v1)
	s.registerMemberRoutes(v1)
	s.registerMeRoutes(v1)

	var h http.Handler = r
	h = recoverer(h)
	h = accessLog(h)
	h = withRequestID(c.Log)(h)
	return h
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
