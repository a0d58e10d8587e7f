package httpapi

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/commands"
	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/chain"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/memory"
	"github.com/rosterhq/roster/infra/invitetoken"
	"github.com/rosterhq/roster/readmodels"
)

// memberReads is a read side that knows who belongs to the property and
// nothing else: the chain routes ask it only that.
type memberReads struct {
	ReadModels
	members map[string]domain.MemberStatus // account ID -> status
}

func (f memberReads) Membership(_ context.Context, _ string, accountID string) (readmodels.Member, bool, error) {
	st, ok := f.members[accountID]
	return readmodels.Member{AccountID: accountID, Status: st}, ok, nil
}

func (f memberReads) Position(context.Context) (eventstore.Position, error) {
	return eventstore.Start, nil
}

// alteredAt reads the store as it is, except that the event at revision has
// other data, as if a row had been changed in the database.
type alteredAt struct {
	*memory.Store
	revision uint64
}

func (a alteredAt) ReadStreamPage(ctx context.Context, stream string, from uint64, limit int) ([]eventstore.RecordedEvent, error) {
	recs, err := a.Store.ReadStreamPage(ctx, stream, from, limit)
	for i := range recs {
		if recs[i].Revision == a.revision {
			recs[i].Data = []byte(`{"schema":1,"tampered":true}`)
		}
	}
	return recs, err
}

// chainAPI is the API over a property written through the command handlers
// into a memory store (two events), whose event at revision 1 reads altered
// when tamper is set, with heads signed with key (none when nil). It
// returns the API, the property's ID and the reader the chain is read
// through. A bearer token is the caller's account ID.
func chainAPI(t *testing.T, key ed25519.PrivateKey, tamper bool) (http.Handler, string, chain.StreamReader) {
	t.Helper()
	store := memory.New()
	h := commands.New(commands.Config{Store: store, Tokens: invitetoken.New([]byte("httpapi-test-invitation-key-32-bytes"))})
	owner := domain.Actor{AccountID: "owner", Email: "owner@example.com", EmailVerified: true}
	res, err := h.CreateProperty.Handle(context.Background(), commands.Meta{Actor: owner}, commands.CreateProperty{Name: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	var r chain.StreamReader = store
	if tamper {
		r = alteredAt{store, 1}
	}
	var signer *chain.Signer
	if key != nil {
		if signer, err = chain.NewSigner(key, nil); err != nil {
			t.Fatal(err)
		}
	}
	reads := memberReads{members: map[string]domain.MemberStatus{"owner": domain.StatusEnabled, "agent": domain.StatusEnabled, "gone": domain.StatusDisabled}}
	api := New(Config{Log: zerolog.Nop(), Reads: reads, Chain: chain.NewAuditor(r, signer),
		Authenticate: func(_ context.Context, raw string) (domain.Actor, error) { return domain.Actor{AccountID: raw}, nil }})
	return api, res.PropertyID, r
}

// chainSpec validates answers against the OpenAPI document, as the
// end-to-end suite does for the routes it calls.
func chainSpec(t *testing.T) func(req *http.Request, w *httptest.ResponseRecorder) {
	t.Helper()
	doc := loadOpenAPI(t, openAPIYAML)
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return func(req *http.Request, w *httptest.ResponseRecorder) {
		t.Helper()
		route, params, err := router.FindRoute(req)
		if err != nil {
			t.Errorf("%s %s is not documented: %v", req.Method, req.URL.Path, err)
			return
		}
		in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: w.Code, Header: w.Header(),
			Body: io.NopCloser(bytes.NewReader(w.Body.Bytes())), Options: &openapi3filter.Options{IncludeResponseStatus: true}}
		if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
			t.Errorf("%s %s answered %d against the document: %v\n%s", req.Method, req.URL.Path, w.Code, err, w.Body)
		}
	}
}

func TestChainRoutes(t *testing.T) {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, ed25519.SeedSize))
	check := chainSpec(t)
	tests := []struct {
		name    string
		key     ed25519.PrivateKey
		tamper  bool
		caller  string
		path    string // %s is the property ID
		status  int
		code    string // of a problem
		inBody  []string
		checkOK bool // the answer is a head that CheckHead accepts
	}{
		{"a member verifies an intact chain", key, false, "agent", "/v1/properties/%s/audit/verify", 200, "", []string{`"ok":true`, `"events":2`, `"chained":2`}, false},
		{"a member sees the first altered event", key, true, "owner", "/v1/properties/%s/audit/verify", 200, "", []string{`"ok":false`, `"kind":"altered"`, `"revision":1`}, false},
		{"verification works without a signing key", nil, false, "owner", "/v1/properties/%s/audit/verify", 200, "", []string{`"ok":true`}, false},
		{"an outsider is told the property does not exist", key, false, "stranger", "/v1/properties/%s/audit/verify", 404, domain.CodePropertyNotFound, nil, false},
		{"a disabled member is told the property does not exist", key, false, "gone", "/v1/properties/%s/audit/verify", 404, domain.CodePropertyNotFound, nil, false},
		{"a member gets a head that checks", key, false, "agent", "/v1/properties/%s/audit/head", 200, "", []string{`"revision":1`, `"events":2`}, true},
		{"an outsider gets no head", key, false, "stranger", "/v1/properties/%s/audit/head", 404, domain.CodePropertyNotFound, nil, false},
		{"a broken chain's head is not signed", key, true, "owner", "/v1/properties/%s/audit/head", 409, domain.CodeChainBroken, nil, false},
		{"no head without a signing key", nil, false, "owner", "/v1/properties/%s/audit/head", 503, domain.CodeSigningKeyNotConfigured, nil, false},
		{"anyone signed in gets the public key", key, false, "stranger", "/v1/audit/public-key", 200, "", []string{`"algorithm":"Ed25519"`, `"key_id":"` + chain.KeyID(key.Public().(ed25519.PublicKey)) + `"`}, false},
		{"no public key without a signing key", nil, false, "stranger", "/v1/audit/public-key", 503, domain.CodeSigningKeyNotConfigured, nil, false},
		{"no token, no verification", key, false, "", "/v1/properties/%s/audit/verify", 401, domain.CodeUnauthenticated, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api, pid, r := chainAPI(t, tt.key, tt.tamper)
			path := strings.Replace(tt.path, "%s", pid, 1)
			req := httptest.NewRequest(http.MethodGet, path, nil)
			if tt.caller != "" {
				req.Header.Set("Authorization", "Bearer "+tt.caller)
			}
			w := httptest.NewRecorder()
			api.ServeHTTP(w, req)
			check(req, w)
			if w.Code != tt.status {
				t.Fatalf("answer %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			var body map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %s: %v", w.Body, err)
			}
			if tt.code != "" && body["code"] != tt.code {
				t.Errorf("code %v, want %s", body["code"], tt.code)
			}
			for _, s := range tt.inBody {
				if !strings.Contains(w.Body.String(), s) {
					t.Errorf("body lacks %s: %s", s, w.Body)
				}
			}
			if tt.checkOK {
				var h chain.Head
				if err := json.Unmarshal(w.Body.Bytes(), &h); err != nil {
					t.Fatal(err)
				}
				got, err := chain.CheckHead(context.Background(), r, h, key.Public().(ed25519.PublicKey))
				if err != nil || !got.OK || h.PropertyID != pid {
					t.Errorf("CheckHead of the answered head = %+v, %v; want it to hold for %s", got, err, pid)
				}
			}
		})
	}
}

func TestChainRoutesWithoutAuditorAreInternalErrors(t *testing.T) {
	reads := memberReads{members: map[string]domain.MemberStatus{"owner": domain.StatusEnabled}}
	api := New(Config{Log: zerolog.Nop(), Reads: reads,
		Authenticate: func(_ context.Context, raw string) (domain.Actor, error) { return domain.Actor{AccountID: raw}, nil }})
	for _, path := range []string{"/v1/properties/p1/audit/verify", "/v1/properties/p1/audit/head", "/v1/audit/public-key"} {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Authorization", "Bearer owner")
		w := httptest.NewRecorder()
		api.ServeHTTP(w, req)
		if w.Code != http.StatusInternalServerError || !strings.Contains(w.Body.String(), `"code":"internal"`) {
			t.Errorf("%s answered %d %s, want 500 internal", path, w.Code, w.Body)
		}
	}
}
