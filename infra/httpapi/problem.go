package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/outage"
)

// The errors of routing itself, which no domain decision gives: the kinds
// and codes of a path Roster does not serve and of a method a path does
// not take.
const (
	kindNoRoute   domain.Kind = "no_route"
	kindBadMethod domain.Kind = "bad_method"

	codeRouteNotFound    = "route_not_found"
	codeMethodNotAllowed = "method_not_allowed"
)

// statusOf is the one map from error kind to HTTP status.
var statusOf = map[domain.Kind]int{
	domain.KindMalformed:       http.StatusBadRequest,
	domain.KindInvalid:         http.StatusUnprocessableEntity,
	domain.KindTooLarge:        http.StatusRequestEntityTooLarge,
	domain.KindUnauthenticated: http.StatusUnauthorized,
	domain.KindForbidden:       http.StatusForbidden,
	domain.KindNotFound:        http.StatusNotFound,
	kindNoRoute:                http.StatusNotFound,
	kindBadMethod:              http.StatusMethodNotAllowed,
	domain.KindConflict:        http.StatusConflict,
	domain.KindPrecondition:    http.StatusPreconditionFailed,
	domain.KindUnavailable:     http.StatusServiceUnavailable,
	domain.KindTooMany:         http.StatusTooManyRequests,
	domain.KindInternal:        http.StatusInternalServerError,
}

// problem is an RFC 9457 problem document with Roster's stable code.
type problem struct {
	Type      string           `json:"type"`
	Title     string           `json:"title"`
	Status    int              `json:"status"`
	Detail    string           `json:"detail"`
	Code      string           `json:"code"`
	Instance  string           `json:"instance,omitempty"`
	RequestID string           `json:"request_id,omitempty"`
	Errors    []domain.Problem `json:"errors,omitempty"`
}

// rateLimited is an error of a limit on writes (infra/limits), which
// tells the RateLimit-Policy and RateLimit fields of its answer
// (draft-ietf-httpapi-ratelimit-headers).
type rateLimited interface {
	RateLimitFields() (policy, current string)
}

// writeError answers err as application/problem+json. An error that says
// a dependency cannot be reached (outage.Is) is 503 with Retry-After, not
// 500; a limit's refusal carries its RateLimit headers. Only internal
// errors and outages are logged, here and only here, with the request ID
// to find them by.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	var de *domain.Error
	if !errors.As(err, &de) {
		if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
			// The client went away; there is no one to answer.
			return
		}
		if de = outage.Classify(err); de != nil {
			zerolog.Ctx(r.Context()).Warn().Err(err).Str("path", r.URL.Path).Msg("dependency unavailable")
		} else {
			zerolog.Ctx(r.Context()).Error().Err(err).Str("path", r.URL.Path).Msg("internal error")
			de = domain.Errorf(domain.KindInternal, domain.CodeInternal,
				"an internal error occurred; quote request id %s when reporting it", requestID(r.Context()))
		}
	}
	status, ok := statusOf[de.Kind]
	if !ok {
		status = http.StatusInternalServerError
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="roster"`)
	}
	var limited rateLimited
	if errors.As(err, &limited) {
		policy, current := limited.RateLimitFields()
		w.Header().Set("RateLimit-Policy", policy)
		w.Header().Set("RateLimit", current)
	}
	if de.RetryAfter > 0 {
		// Whole seconds, rounded up: "Retry-After: 0" would invite a storm.
		w.Header().Set("Retry-After", strconv.FormatInt(int64((de.RetryAfter+time.Second-1)/time.Second), 10))
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(problem{
		Type: "urn:roster:problem:" + de.Code, Title: http.StatusText(status), Status: status,
		Detail: de.Message, Code: de.Code, Instance: r.URL.Path, RequestID: requestID(r.Context()),
		Errors: de.Problems,
	})
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
