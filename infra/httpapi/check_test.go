package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/accessindex"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/readmodels"
)

// echoChecker allows what an agent may and says so at position 7.0; it
// records the at_least it was asked.
type echoChecker struct{ atLeast *eventstore.Position }

func (c *echoChecker) Check(_ context.Context, items []accessindex.Item, at *eventstore.Position) ([]accessindex.Answer, error) {
	c.atLeast = at
	out := make([]accessindex.Answer, len(items))
	for i, it := range items {
		out[i] = accessindex.Answer{Member: it.AccountID != "nobody", Role: domain.RoleAgent, Status: domain.StatusEnabled,
			Position: eventstore.Position{Commit: 7}}
		out[i].Allowed = out[i].Member && domain.Allowed(domain.RoleAgent, false, domain.StatusEnabled, it.Permission)
		if !out[i].Member {
			out[i].Role, out[i].Status = "", ""
		}
	}
	return out, nil
}

func (c *echoChecker) Lookup(_ context.Context, _ accessindex.Granter, account string, _ domain.Permission, _ string, _ int,
	_ *eventstore.Position) (readmodels.GrantedPage, time.Time, error) {
	return readmodels.GrantedPage{PropertyIDs: []string{"p-of-" + account}, Position: eventstore.Position{Commit: 7}}, time.Time{}, nil
}

// checkAPI is the API with the access-check routes: token "svc" is an
// accepted service, "person" a person's token, "stranger" a service the
// operators do not list.
func checkAPI(c Checker) http.Handler {
	return New(Config{Log: zerolog.Nop(),
		Authenticate: func(context.Context, string) (domain.Actor, error) {
			return domain.Actor{AccountID: "a1", Email: "a@example.com", EmailVerified: true}, nil
		},
		Checks: CheckConfig{Checker: c, Granter: struct{ accessindex.Granter }{}, Authenticate: func(_ context.Context, raw string) (string, error) {
			switch raw {
			case "svc":
				return "chat-router", nil
			case "person":
				return "", domain.Errorf(domain.KindForbidden, domain.CodeServiceOnly, "a person's token")
			case "stranger":
				return "", domain.Errorf(domain.KindForbidden, domain.CodeServiceNotAllowed, "service stranger is not accepted")
			}
			return "", errors.New("bad signature")
		}},
	})
}

func serveCheck(t *testing.T, h http.Handler, method, target, token, body string) (*httptest.ResponseRecorder, problem) {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	var p problem
	if w.Code >= 400 {
		if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
			t.Fatalf("%s %s: problem %q: %v", method, target, w.Body, err)
		}
	}
	return w, p
}

const oneCheck = `{"account_id":"acc-1","property_id":"p-1","permission":"respond_to_chats"}`

var checkRoutes = []struct{ method, target, body string }{
	{http.MethodPost, "/v1/access/check", oneCheck},
	{http.MethodPost, "/v1/access/check-bulk", `{"items":[` + oneCheck + `]}`},
	{http.MethodGet, "/v1/access/properties?account_id=acc-1&permission=view_members", ""},
}

func TestCheckRoutesTakeOnlyAnAcceptedServicesToken(t *testing.T) {
	h := checkAPI(&echoChecker{})
	tests := []struct {
		name, token string
		status      int
		code        string
	}{
		{"no token is unauthenticated", "", http.StatusUnauthorized, domain.CodeUnauthenticated},
		{"a refused token is unauthenticated", "forged", http.StatusUnauthorized, domain.CodeUnauthenticated},
		{"a person's token is forbidden", "person", http.StatusForbidden, domain.CodeServiceOnly},
		{"a service the operators do not list is forbidden", "stranger", http.StatusForbidden, domain.CodeServiceNotAllowed},
		{"an accepted service is answered", "svc", http.StatusOK, ""},
	}
	for _, rt := range checkRoutes {
		for _, tt := range tests {
			t.Run(rt.method+" "+rt.target+": "+tt.name, func(t *testing.T) {
				w, p := serveCheck(t, h, rt.method, rt.target, tt.token, rt.body)
				if w.Code != tt.status || p.Code != tt.code {
					t.Errorf("answer %d %q, want %d %q: %s", w.Code, p.Code, tt.status, tt.code, w.Body)
				}
			})
		}
	}
}

func TestCheckAnswersWithItsPosition(t *testing.T) {
	c := &echoChecker{}
	h := checkAPI(c)
	w, _ := serveCheck(t, h, http.MethodPost, "/v1/access/check", "svc",
		`{"account_id":"acc-1","property_id":"p-1","permission":"manage_members","at_least":"6.2"}`)
	want := `{"allowed":false,"role":"agent","status":"enabled","owner":false,"position":"7.0"}`
	if w.Code != http.StatusOK || strings.TrimSpace(w.Body.String()) != want {
		t.Errorf("answer %d %s, want 200 %s", w.Code, w.Body, want)
	}
	if c.atLeast == nil || *c.atLeast != (eventstore.Position{Commit: 6, Prepare: 2}) {
		t.Errorf("the checker was asked at %v, want 6.2", c.atLeast)
	}
	w, _ = serveCheck(t, h, http.MethodPost, "/v1/access/check-bulk", "svc", `{"items":[`+oneCheck+`,
		{"account_id":"nobody","property_id":"p-1","permission":"view_members"},
		{"account_id":"acc-2","property_id":"p-2","permission":"transfer_ownership"}]}`)
	var got struct{ Results []checkAnswer }
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || w.Code != http.StatusOK {
		t.Fatalf("bulk answer %d %s: %v", w.Code, w.Body, err)
	}
	wantBulk := []checkAnswer{
		{Allowed: true, Role: domain.RoleAgent, Status: "enabled", Position: "7.0"},
		{Status: "not_member", Position: "7.0"},
		{Role: domain.RoleAgent, Status: "enabled", Position: "7.0"},
	}
	if diff := cmp.Diff(wantBulk, got.Results); diff != "" {
		t.Errorf("bulk answers, in order (-want +got):\n%s", diff)
	}
}

func TestBadChecksAreRefusedNamingEachProblem(t *testing.T) {
	h := checkAPI(&echoChecker{})
	many := strings.TrimSuffix(strings.Repeat(oneCheck+",", maxBulkChecks+1), ",")
	tests := []struct {
		name, target, body string
		code               string
		problems           []domain.Problem
	}{
		{"an unknown permission is named", "/v1/access/check", `{"account_id":"a","property_id":"p","permission":"fly"}`,
			domain.CodeUnknownPermission, []domain.Problem{{Index: -1, Field: "permission", Value: "fly", Code: domain.CodeUnknownPermission}}},
		{"a missing account is named", "/v1/access/check", `{"property_id":"p","permission":"view_members"}`,
			domain.CodeInvalidRequest, []domain.Problem{{Index: -1, Field: "account_id", Code: domain.CodeInvalidRequest}}},
		{"an unknown field is refused", "/v1/access/check", `{"account_id":"a","property_id":"p","permission":"view_members","role":"admin"}`,
			domain.CodeUnknownField, nil},
		{"a position that is none is refused", "/v1/access/check", `{"account_id":"a","property_id":"p","permission":"view_members","at_least":"soon"}`,
			domain.CodeInvalidRequest, []domain.Problem{{Index: -1, Field: "at_least", Value: "soon", Code: domain.CodeInvalidRequest}}},
		{"every bad item of a bulk check is named by its index", "/v1/access/check-bulk", `{"items":[` + oneCheck + `,
			{"account_id":"","property_id":"p","permission":"view_members"},
			` + oneCheck + `,
			{"account_id":"a","property_id":"","permission":"Fly"}]}`,
			domain.CodeInvalidChecks, []domain.Problem{
				{Index: 1, Field: "account_id", Code: domain.CodeInvalidRequest},
				{Index: 3, Field: "property_id", Code: domain.CodeInvalidRequest},
				{Index: 3, Field: "permission", Value: "Fly", Code: domain.CodeUnknownPermission},
			}},
		{"an empty bulk check is refused", "/v1/access/check-bulk", `{"items":[]}`, domain.CodeInvalidRequest, nil},
		{"a bulk check over 1,000 items is refused", "/v1/access/check-bulk", `{"items":[` + many + `]}`, domain.CodeTooManyChecks, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, p := serveCheck(t, h, http.MethodPost, tt.target, "svc", tt.body)
			if w.Code != http.StatusBadRequest || p.Code != tt.code {
				t.Fatalf("answer %d %q, want 400 %q: %s", w.Code, p.Code, tt.code, w.Body)
			}
			for i := range p.Errors {
				p.Errors[i].Message = ""
			}
			if diff := cmp.Diff(tt.problems, p.Errors); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLookupRefusesABadQuery(t *testing.T) {
	h := checkAPI(&echoChecker{})
	tests := []struct {
		query  string
		status int
		code   string
	}{
		{"permission=view_members", http.StatusUnprocessableEntity, domain.CodeInvalidQuery},
		{"account_id=a&permission=fly", http.StatusBadRequest, domain.CodeUnknownPermission},
		{"account_id=a&permission=view_members&limit=many", http.StatusUnprocessableEntity, domain.CodeInvalidQuery},
		{"account_id=a&permission=view_members&at_least=x", http.StatusBadRequest, domain.CodeInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			w, p := serveCheck(t, h, http.MethodGet, "/v1/access/properties?"+tt.query, "svc", "")
			if w.Code != tt.status || p.Code != tt.code {
				t.Errorf("answer %d %q, want %d %q: %s", w.Code, p.Code, tt.status, tt.code, w.Body)
			}
		})
	}
	w, _ := serveCheck(t, h, http.MethodGet, "/v1/access/properties?account_id=acc-1&permission=view_members", "svc", "")
	if want := `{"property_ids":["p-of-acc-1"],"next_cursor":"","position":"7.0"}`; strings.TrimSpace(w.Body.String()) != want {
		t.Errorf("lookup answered %s, want %s", w.Body, want)
	}
}
