package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/accessindex"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/readmodels"
)

// Checker answers the access-check API: checks from the access index, the
// lookup from the access read model.
type Checker interface {
	Check(ctx context.Context, items []accessindex.Item, atLeast *eventstore.Position) ([]accessindex.Answer, error)
	Lookup(ctx context.Context, g accessindex.Granter, accountID string, perm domain.Permission, cursor string, limit int,
		atLeast *eventstore.Position) (readmodels.GrantedPage, time.Time, error)
}

// ServiceAuthenticator turns a service's bearer token into the service's
// name. A *domain.Error it returns is answered as it is (403 for a
// person's token, or a service the operators do not accept); any other
// error is 401.
type ServiceAuthenticator func(ctx context.Context, rawToken string) (string, error)

// CheckConfig is the access-check API, which only services call.
type CheckConfig struct {
	// Checker answers; without it the check routes answer 500.
	Checker Checker
	// Granter is the read model the lookup reads.
	Granter accessindex.Granter
	// Authenticate checks a service's token; without it every call is 401.
	Authenticate ServiceAuthenticator
}

// Bounds of the access-check API.
const (
	// maxBulkChecks is the most items one bulk check answers.
	maxBulkChecks = 1000
	// maxCheckBodyBytes bounds a bulk check's body: 1,000 items of two
	// UUIDs and a permission are about 110 KiB.
	maxCheckBodyBytes = 512 << 10
	// maxCheckIDBytes bounds an account or property ID: longer ones are
	// none Roster gives out (see auth.MaxSubjectBytes).
	maxCheckIDBytes = 255
)

// checkStatusNotMember is the status of an account that is no member.
const checkStatusNotMember = "not_member"

// bearer is the token of r's Authorization: Bearer header.
func bearer(r *http.Request) (string, bool) {
	scheme, raw, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	raw = strings.TrimSpace(raw)
	return raw, ok && strings.EqualFold(scheme, "Bearer") && raw != ""
}

func (s *server) registerCheckRoutes(r routes, c CheckConfig) {
	auth := authenticateService(c.Authenticate)
	s.direct = map[string]directRoute{}
	for _, rt := range []struct {
		method, path string
		h            http.HandlerFunc
	}{
		{http.MethodPost, "/access/check", s.check},
		{http.MethodPost, "/access/check-bulk", s.checkBulk},
		{http.MethodGet, "/access/properties", s.grantedProperties},
	} {
		h := auth(rt.h)
		r.r.Handle("/v1"+rt.path, h).Methods(rt.method)
		s.direct["/v1"+rt.path] = directRoute{method: rt.method, h: h}
	}
	s.checks = c
}

// directRoute is a route taken before the router looks: see direct.
type directRoute struct {
	method string
	h      http.Handler
}

// direct serves a request for one of routes, by its exact path and
// method, without the router, and any other through next. The check
// routes have no path variables, and gorilla/mux's matching of a request
// against every route before them, with the copies of the request it
// makes to carry its variables, is the largest part of what a check
// costs the server besides the answer. Their routes stay on the router
// too, which answers every other method on their paths (405 with Allow).
func direct(routes map[string]directRoute, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rt, ok := routes[r.URL.Path]; ok && rt.method == r.Method {
			rt.h.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// authenticateService lets only a service's token through.
func authenticateService(auth ServiceAuthenticator) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			raw, ok := bearer(r)
			if !ok || auth == nil {
				writeError(w, r, domain.Errorf(domain.KindUnauthenticated, domain.CodeUnauthenticated,
					"an Authorization: Bearer <token> header with a service's token is required"))
				return
			}
			name, err := auth(r.Context(), raw)
			var de *domain.Error
			switch {
			case errors.As(err, &de):
				writeError(w, r, de)
				return
			case err != nil:
				writeError(w, r, domain.Errorf(domain.KindUnauthenticated, domain.CodeUnauthenticated,
					"the bearer token was refused: %v", err))
				return
			}
			l := zerolog.Ctx(r.Context()).With().Str("service", name).Logger()
			next.ServeHTTP(w, r.WithContext(l.WithContext(r.Context())))
		})
	}
}

// checkItem is one question of a check, as a service sends it.
type checkItem struct {
	AccountID  string `json:"account_id"`
	PropertyID string `json:"property_id"`
	Permission string `json:"permission"`
}

// checkRequest is the body of POST /v1/access/check.
type checkRequest struct {
	checkItem
	AtLeast string `json:"at_least,omitempty"`
}

// bulkCheckRequest is the body of POST /v1/access/check-bulk.
type bulkCheckRequest struct {
	Items   []checkItem `json:"items"`
	AtLeast string      `json:"at_least,omitempty"`
}

// checkAnswer is one answer of the access-check API.
type checkAnswer struct {
	Allowed bool        `json:"allowed"`
	Role    domain.Role `json:"role,omitempty"`
	// Status is enabled, disabled or not_member.
	Status string `json:"status"`
	Owner  bool   `json:"owner"`
	// Position is where in the feed the answer was taken.
	Position string `json:"position"`
	// FreshAt, without at_least, is a time before which every change is
	// reflected in the answer.
	FreshAt *time.Time `json:"fresh_at,omitempty"`
}

func toCheckAnswer(a accessindex.Answer) checkAnswer {
	out := checkAnswer{Allowed: a.Allowed, Role: a.Role, Status: string(a.Status), Owner: a.Owner, Position: a.Position.String()}
	if !a.Member {
		out.Status = checkStatusNotMember
	}
	if !a.FreshAt.IsZero() {
		at := a.FreshAt.UTC()
		out.FreshAt = &at
	}
	return out
}

// parse checks the item, the index-th of a bulk check (-1 for a single
// one), and names each problem.
func (it checkItem) parse(index int) (accessindex.Item, []domain.Problem) {
	var problems []domain.Problem
	for _, f := range []struct{ name, value string }{{"account_id", it.AccountID}, {"property_id", it.PropertyID}} {
		switch {
		case strings.TrimSpace(f.value) == "":
			problems = append(problems, domain.Problem{Index: index, Field: f.name, Value: f.value,
				Code: domain.CodeInvalidRequest, Message: f.name + " is required"})
		case len(f.value) > maxCheckIDBytes:
			problems = append(problems, domain.Problem{Index: index, Field: f.name, Value: f.value[:maxCheckIDBytes],
				Code: domain.CodeInvalidRequest, Message: fmt.Sprintf("%s is %d bytes, longer than %d", f.name, len(f.value), maxCheckIDBytes)})
		}
	}
	perm, err := domain.ParsePermission(it.Permission)
	if err != nil {
		problems = append(problems, domain.Problem{Index: index, Field: "permission", Value: it.Permission,
			Code: domain.CodeUnknownPermission, Message: err.Error()})
	}
	return accessindex.Item{PropertyID: it.PropertyID, AccountID: it.AccountID, Permission: perm}, problems
}

// parseAtLeast reads at_least, a position a command answered; empty is none.
func parseAtLeast(field, raw string) (*eventstore.Position, error) {
	if raw == "" {
		return nil, nil
	}
	pos, err := eventstore.ParsePosition(raw)
	if err != nil {
		return nil, &domain.Error{Kind: domain.KindMalformed, Code: domain.CodeInvalidRequest, Message: field + ": " + err.Error(),
			Problems: []domain.Problem{{Index: -1, Field: field, Value: raw, Code: domain.CodeInvalidRequest, Message: err.Error()}}}
	}
	return &pos, nil
}

// check answers POST /v1/access/check: may the account do the permission
// on the property?
func (s *server) check(w http.ResponseWriter, r *http.Request) {
	var req checkRequest
	if err := s.decodeCheck(w, r, &req, func(body string) bool { return fastCheckRequest(body, &req) }); err != nil {
		writeError(w, r, err)
		return
	}
	item, problems := req.parse(-1)
	if len(problems) > 0 {
		writeError(w, r, &domain.Error{Kind: domain.KindMalformed, Code: problems[0].Code, Message: problems[0].Message, Problems: problems})
		return
	}
	at, err := parseAtLeast("at_least", req.AtLeast)
	if err != nil {
		writeError(w, r, err)
		return
	}
	answers, err := s.checks.Checker.Check(r.Context(), []accessindex.Item{item}, at)
	if err != nil {
		writeError(w, r, err)
		return
	}
	buf := getBuffer()
	defer putBuffer(buf)
	b := append(appendAnswer(buf.AvailableBuffer(), answers[0]), '\n')
	writeWire(w, http.StatusOK, b)
	keepGrown(buf, b)
}

// checkBulk answers POST /v1/access/check-bulk: up to 1,000 checks,
// answered in order. Every bad item is named at once, and none answered.
func (s *server) checkBulk(w http.ResponseWriter, r *http.Request) {
	var req bulkCheckRequest
	if err := s.decodeCheck(w, r, &req, func(body string) bool { return fastBulkRequest(body, &req) }); err != nil {
		writeError(w, r, err)
		return
	}
	switch n := len(req.Items); {
	case n == 0:
		writeError(w, r, domain.Errorf(domain.KindMalformed, domain.CodeInvalidRequest, "items is empty; send 1 to %d checks", maxBulkChecks))
		return
	case n > maxBulkChecks:
		writeError(w, r, domain.Errorf(domain.KindMalformed, domain.CodeTooManyChecks, "%d items, more than the %d one bulk check answers", n, maxBulkChecks))
		return
	}
	items := make([]accessindex.Item, len(req.Items))
	var problems []domain.Problem
	bad := 0
	for i, it := range req.Items {
		var p []domain.Problem
		items[i], p = it.parse(i)
		if len(p) > 0 {
			bad++
			problems = append(problems, p...)
		}
	}
	if len(problems) > 0 {
		writeError(w, r, &domain.Error{Kind: domain.KindMalformed, Code: domain.CodeInvalidChecks, Problems: problems,
			Message: fmt.Sprintf("%d of %d items are wrong; each is named, and none was answered", bad, len(items))})
		return
	}
	at, err := parseAtLeast("at_least", req.AtLeast)
	if err != nil {
		writeError(w, r, err)
		return
	}
	answers, err := s.checks.Checker.Check(r.Context(), items, at)
	if err != nil {
		writeError(w, r, err)
		return
	}
	buf := getBuffer()
	defer putBuffer(buf)
	b := append(buf.AvailableBuffer(), `{"results":[`...)
	for i, a := range answers {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendAnswer(b, a)
	}
	b = append(b, "]}\n"...)
	writeWire(w, http.StatusOK, b)
	keepGrown(buf, b)
}

// decodeCheck reads a check's body strictly, once the API has a checker:
// a plain body by fast, which reports false when it cannot be sure to read
// it as decodeStrict would, and any other by decodeStrict.
func (s *server) decodeCheck(w http.ResponseWriter, r *http.Request, v any, fast func(body string) bool) error {
	if s.checks.Checker == nil {
		return errors.New("the access-check API has no checker configured")
	}
	buf := getBuffer()
	defer putBuffer(buf)
	if err := readBodyInto(w, r, maxCheckBodyBytes, buf); err != nil {
		return err
	}
	// One string of the whole body: the fields read are substrings of it.
	if fast(buf.String()) {
		return nil
	}
	return decodeStrict(buf.Bytes(), v)
}

// grantedPage is the answer of GET /v1/access/properties.
type grantedPage struct {
	PropertyIDs []string   `json:"property_ids"`
	NextCursor  string     `json:"next_cursor"`
	Position    string     `json:"position"`
	FreshAt     *time.Time `json:"fresh_at,omitempty"`
}

// grantedProperties answers GET /v1/access/properties: a page of the
// properties where account_id holds permission (Zanzibar's lookup).
func (s *server) grantedProperties(w http.ResponseWriter, r *http.Request) {
	if s.checks.Checker == nil || s.checks.Granter == nil {
		writeError(w, r, errors.New("the access-check API has no checker configured"))
		return
	}
	q := r.URL.Query()
	account := q.Get("account_id")
	if strings.TrimSpace(account) == "" || len(account) > maxCheckIDBytes {
		writeError(w, r, invalidQuery("account_id", account, fmt.Sprintf("is required, at most %d bytes", maxCheckIDBytes)))
		return
	}
	perm, err := domain.ParsePermission(q.Get("permission"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	limit := 0
	if raw := q.Get("limit"); raw != "" {
		if limit, err = strconv.Atoi(raw); err != nil {
			writeError(w, r, invalidQuery("limit", raw, "is not a whole number"))
			return
		}
	}
	at, err := parseAtLeast("at_least", q.Get("at_least"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	page, freshAt, err := s.checks.Checker.Lookup(r.Context(), s.checks.Granter, account, perm, q.Get("cursor"), limit, at)
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := grantedPage{PropertyIDs: page.PropertyIDs, NextCursor: page.NextCursor, Position: page.Position.String()}
	if !freshAt.IsZero() {
		t := freshAt.UTC()
		out.FreshAt = &t
	}
	writeJSON(w, http.StatusOK, out)
}
