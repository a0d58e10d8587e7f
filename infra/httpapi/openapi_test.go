package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/go-cmp/cmp"
	"github.com/gorilla/mux"

	"github.com/rosterhq/roster/domain"
)

// loadOpenAPI loads and validates the embedded document.
func loadOpenAPI(t *testing.T, data []byte) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		t.Fatalf("load the OpenAPI document: %v", err)
	}
	if err := doc.Validate(context.Background(), openapi3.EnableExamplesValidation()); err != nil {
		t.Fatalf("the OpenAPI document is not valid: %v", err)
	}
	return doc
}

// documentedRoutes lists "METHOD path" for every operation of doc.
func documentedRoutes(doc *openapi3.T) []string {
	var out []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			out = append(out, method+" "+path)
		}
	}
	slices.Sort(out)
	return out
}

// builtRoutes lists "METHOD path" for every route New registers, walking
// the router it builds.
func builtRoutes(t *testing.T) []string {
	t.Helper()
	var built *mux.Router
	hook := func(r *mux.Router) { built = r }
	testHookRouter.Store(&hook)
	testAPI()
	testHookRouter.Store(nil)
	if built == nil {
		t.Fatal("New did not register the OpenAPI route, so its router could not be walked")
	}
	var out []string
	err := built.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		path, err := route.GetPathTemplate()
		if err != nil {
			return fmt.Errorf("a route without a path: %w", err)
		}
		methods, err := route.GetMethods()
		if err != nil {
			return fmt.Errorf("route %s has no methods: %w", path, err)
		}
		for _, m := range methods {
			out = append(out, m+" "+path)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk the router: %v", err)
	}
	slices.Sort(out)
	return out
}

func TestOpenAPIDocumentsEveryRouteAndNoOther(t *testing.T) {
	doc := loadOpenAPI(t, openAPIYAML)
	if diff := cmp.Diff(builtRoutes(t), documentedRoutes(doc)); diff != "" {
		t.Errorf("routes of the router (-) and of the document (+) differ:\n%s", diff)
	}
}

func TestOpenAPIJSONIsServedWithoutAToken(t *testing.T) {
	w := httptest.NewRecorder()
	testAPI().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/openapi.json", nil))
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("answer %d %q, want 200 application/json: %s", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	served := loadOpenAPI(t, w.Body.Bytes())
	kept := loadOpenAPI(t, openAPIYAML)
	// The loaded documents compare by their JSON: openapi3.T holds
	// unexported bookkeeping that differs between two loads.
	got, err := json.Marshal(served)
	if err != nil {
		t.Fatal(err)
	}
	want, err := json.Marshal(kept)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("the served document differs from openapi.yaml (-kept +served):\n%s", diff)
	}
	if served.OpenAPI != "3.0.3" || len(served.Paths.Map()) == 0 {
		t.Errorf("served OpenAPI %q with %d paths, want 3.0.3 with every path", served.OpenAPI, len(served.Paths.Map()))
	}
}

// TestOpenAPIRoutesWithoutTokenAreTheProbesTheDocumentAndSigningIn: only
// the probes, this document, the page and how to sign in need no token.
func TestOpenAPIRoutesWithoutTokenAreTheProbesTheDocumentAndSigningIn(t *testing.T) {
	doc := loadOpenAPI(t, openAPIYAML)
	var open []string
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.Security != nil && len(*op.Security) == 0 {
				open = append(open, method+" "+path)
				continue
			}
			// Every authenticated operation answers a refused token with 401.
			if op.Responses.Status(http.StatusUnauthorized) == nil {
				t.Errorf("%s %s needs a token but documents no 401", method, path)
			}
		}
	}
	slices.Sort(open)
	want := []string{"GET /", "GET /accept", "GET /assets/{file}", "GET /healthz", "GET /metrics", "GET /openapi.json", "GET /readyz",
		"GET /v1/auth/config", "POST /v1/auth/dev-login"}
	if diff := cmp.Diff(want, open); diff != "" {
		t.Errorf("operations without security (-want +got):\n%s", diff)
	}
	if scheme := doc.Components.SecuritySchemes["bearer"]; scheme == nil || scheme.Value.Type != "http" ||
		scheme.Value.Scheme != "bearer" || scheme.Value.BearerFormat != "JWT" {
		t.Errorf("security scheme bearer is %+v, want http bearer JWT", scheme)
	}
}

// enumOf returns the enum of the named component schema as strings.
func enumOf(t *testing.T, doc *openapi3.T, name string) []string {
	t.Helper()
	ref := doc.Components.Schemas[name]
	if ref == nil {
		t.Fatalf("no schema %s", name)
	}
	var out []string
	for _, v := range ref.Value.Enum {
		out = append(out, fmt.Sprint(v))
	}
	return out
}

func TestOpenAPIEnumsAreTheDomains(t *testing.T) {
	doc := loadOpenAPI(t, openAPIYAML)
	allPerms := []string{}
	for _, p := range domain.Permissions(domain.RoleAdmin, true, domain.StatusEnabled) {
		allPerms = append(allPerms, string(p))
	}
	tests := []struct {
		schema string
		want   []string
		sorted bool
	}{
		{"EventType", domain.EventTypes(), true},
		{"Permission", allPerms, false},
		{"Role", []string{string(domain.RoleAdmin), string(domain.RoleAgent)}, false},
		{"MemberStatus", []string{string(domain.StatusEnabled), string(domain.StatusDisabled)}, false},
		{"InvitationStatus", []string{string(domain.InvitePending), string(domain.InviteExpired), string(domain.InviteAccepted),
			string(domain.InviteRevoked), string(domain.InviteDeclined)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.schema, func(t *testing.T) {
			got, want := enumOf(t, doc, tt.schema), slices.Clone(tt.want)
			if tt.sorted {
				slices.Sort(got)
				slices.Sort(want)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("enum of %s (-domain +document):\n%s", tt.schema, diff)
			}
		})
	}
}

func TestOpenAPIAuditTypeFilterTakesEveryEventType(t *testing.T) {
	doc := loadOpenAPI(t, openAPIYAML)
	param := doc.Paths.Find("/v1/properties/{pid}/audit").Get.Parameters.GetByInAndName("query", "type")
	if param == nil {
		t.Fatal("GET .../audit documents no type parameter")
	}
	pattern := regexp.MustCompile(param.Schema.Value.Items.Value.Pattern)
	for _, typ := range domain.EventTypes() {
		for _, v := range []string{typ, typ + ",MemberJoined", " MemberLeft , " + typ} {
			if !pattern.MatchString(v) {
				t.Errorf("type=%s is refused by the document's pattern", v)
			}
		}
	}
	for _, v := range []string{"MemberPromoted", "MemberJoined,Nope", "memberjoined"} {
		if pattern.MatchString(v) {
			t.Errorf("type=%s is taken by the document's pattern, which the API refuses", v)
		}
	}
}

// TestOpenAPIProblemsCoverEveryStatus: every status writeError can answer
// has a problem response in the document, with its status and only codes
// the document knows.
func TestOpenAPIProblemsCoverEveryStatus(t *testing.T) {
	doc := loadOpenAPI(t, openAPIYAML)
	known := enumOf(t, doc, "ProblemCode")
	documented := map[int]bool{}
	for name, ref := range doc.Components.Responses {
		mt := ref.Value.Content.Get("application/problem+json")
		if mt == nil {
			continue
		}
		all := mt.Schema.Value.AllOf
		if len(all) != 2 || all[0].Ref != "#/components/schemas/Problem" {
			t.Errorf("response %s is not allOf Problem and its status and codes", name)
			continue
		}
		own := all[1].Value.Properties
		for _, s := range own["status"].Value.Enum {
			documented[int(s.(float64))] = true
		}
		for _, c := range own["code"].Value.Enum {
			if !slices.Contains(known, c.(string)) {
				t.Errorf("response %s names code %v, which ProblemCode lacks", name, c)
			}
		}
		if (ref.Value.Headers["X-Request-ID"] == nil) || (ref.Value.Headers["Cache-Control"] == nil) {
			t.Errorf("response %s lacks X-Request-ID or Cache-Control", name)
		}
	}
	for kind, status := range statusOf {
		if !documented[status] {
			t.Errorf("kind %s answers %d, which no problem response documents", kind, status)
		}
	}
	if strings.Contains(string(openAPIYAML), "\t") {
		t.Error("openapi.yaml holds a tab; YAML indents with spaces")
	}
}
