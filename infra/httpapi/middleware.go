package httpapi

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"
	"github.com/rs/zerolog/hlog"

	"github.com/rosterhq/roster/domain"
)

type ctxKey int

const (
	requestIDKey ctxKey = iota
	actorKey
)

// validRequestID accepts a caller's request ID only when it is short and
// plain (^[A-Za-z0-9._-]{1,64}$), so it can go into logs and headers
// unescaped. A loop rather than a regexp: it runs on every request.
func validRequestID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// headerRequestID is X-Request-ID in the canonical form net/http keeps
// header names in, so looking it up and setting it copy no key.
const headerRequestID = "X-Request-Id"

// withRequestID gives every request an ID (the caller's X-Request-ID when
// usable), echoes it, and puts a logger carrying it in the context.
func withRequestID(log zerolog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := r.Header.Get(headerRequestID)
			if !validRequestID(id) {
				id = uuid.NewString()
			}
			w.Header()[headerRequestID] = []string{id}
			l := log.With().Str("request_id", id).Logger()
			ctx := context.WithValue(l.WithContext(r.Context()), requestIDKey, id)
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// accessLog writes one line per request.
func accessLog(next http.Handler) http.Handler {
	return hlog.AccessHandler(func(r *http.Request, status, size int, d time.Duration) {
		hlog.FromRequest(r).Info().Str("method", r.Method).Str("path", r.URL.Path).Int("status", status).
			Int("size", size).Dur("duration", d).Msg("request")
	})(next)
}

// recoverer turns a panic in a handler into a logged 500 instead of a dropped connection.
func recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				writeError(w, r, fmt.Errorf("panic: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// Authenticator turns a bearer token into the actor it speaks for. Any
// error is answered 401.
type Authenticator func(ctx context.Context, rawToken string) (domain.Actor, error)

// authenticate requires a valid bearer token and puts its actor in the
// context. With failures, an address whose refused tokens are past their
// limit is refused before its token is checked, and each refused token
// counts; a request without a token guesses nothing and does not count.
func authenticate(auth Authenticator, failures FailureLimiter) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if failures != nil {
				if err := failures.Check(clientIP(r)); err != nil {
					writeError(w, r, err)
					return
				}
			}
			raw, ok := bearer(r)
			if !ok {
				writeError(w, r, domain.Errorf(domain.KindUnauthenticated, domain.CodeUnauthenticated,
					"an Authorization: Bearer <token> header is required"))
				return
			}
			actor, err := auth(r.Context(), raw)
			if err != nil {
				if failures != nil {
					failures.Fail(clientIP(r))
				}
				writeError(w, r, domain.Errorf(domain.KindUnauthenticated, domain.CodeUnauthenticated,
					"the bearer token was refused: %v", err))
				return
			}
			ctx := context.WithValue(r.Context(), actorKey, actor)
			l := zerolog.Ctx(ctx).With().Str("actor_id", actor.AccountID).Logger()
			next.ServeHTTP(w, r.WithContext(l.WithContext(ctx)))
		})
	}
}

func actorOf(ctx context.Context) domain.Actor {
	a, _ := ctx.Value(actorKey).(domain.Actor)
	return a
}

// clientIP is the peer address. X-Forwarded-For is not trusted: the service
// cannot know which proxies are its own.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
