package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/rosterhq/roster/infra/httpapi"
)

// apiSpec is the API's OpenAPI document, loaded and routed once for the
// whole package: loading it is slow and it does not change while tests run.
type apiSpec struct {
	doc    *openapi3.T
	router routers.Router
	// paths match a request path to each documented path template, for the
	// Allow header of a 405.
	paths map[string]*regexp.Regexp
}

var loadAPISpec = sync.OnceValues(func() (*apiSpec, error) {
	// The dashboard's files are text the document gives as strings; the
	// validator decodes only JSON and text/plain unless told.
	plain := openapi3filter.RegisteredBodyDecoder("text/plain")
	for _, media := range []string{"text/html", "text/javascript", "text/css", "image/svg+xml"} {
		openapi3filter.RegisterBodyDecoder(media, plain)
	}
	doc, err := openapi3.NewLoader().LoadFromData(httpapi.OpenAPIDocument())
	if err != nil {
		return nil, fmt.Errorf("load the OpenAPI document: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("the OpenAPI document is not valid: %w", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route the OpenAPI document: %w", err)
	}
	paths := map[string]*regexp.Regexp{}
	param := regexp.MustCompile(`\\\{[^/]+\\\}`)
	for p := range doc.Paths.Map() {
		paths[p] = regexp.MustCompile("^" + param.ReplaceAllString(regexp.QuoteMeta(p), "[^/]+") + "$")
	}
	return &apiSpec{doc: doc, router: router, paths: paths}, nil
})

// specOptions are the validation options: the server checks tokens, so the
// validator accepts any; an undocumented status is a mismatch; uuid and
// email formats are checked, which kin-openapi leaves out by default.
// Defaults are not set: validating a request must not change it.
func specOptions(excludeResponseBody bool) *openapi3filter.Options {
	o := &openapi3filter.Options{
		AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
		IncludeResponseStatus: true,
		ExcludeResponseBody:   excludeResponseBody,
		MultiError:            true,
		SkipSettingDefaults:   true,
		SchemaValidationOptions: []openapi3.SchemaValidationOption{
			openapi3.WithStringFormatValidator("uuid", openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForUUIDOfRFC9562)),
			openapi3.WithStringFormatValidator("email", openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForEmail)),
		},
	}
	o.WithCustomSchemaErrorFunc(schemaErrorMessage)
	return o
}

// schemaErrorMessage says where a value went wrong, and how, in one line:
// kin-openapi's own message prints the whole schema.
func schemaErrorMessage(err *openapi3.SchemaError) string {
	value, _ := json.Marshal(err.Value)
	reason := err.Reason
	if err.Origin != nil {
		reason += ": " + err.Origin.Error()
	}
	return fmt.Sprintf("at /%s: %s (value %s)", strings.Join(err.JSONPointer(), "/"), reason, truncate(value, 120))
}

// streamedMedia are the media types of answers streamed row by row (the
// audit exports): their status, headers and media type are checked, their
// bodies are passed through unread.
var streamedMedia = []string{"text/csv", "application/x-ndjson"}

// transportHeaders are set by net/http on any answer, so the document
// leaves them out.
var transportHeaders = []string{"Content-Type", "Content-Length", "Date", "Connection", "Keep-Alive"}

// validatingTransport sends each request through base and checks it and
// its answer against the API's OpenAPI document, reporting every mismatch
// with tb.Errorf, so no test can make a request the document does not
// describe without failing:
//   - every answer: its status is documented for the operation, its
//     documented headers are present and valid, it has no header the
//     document does not name, and its body matches the schema of its media
//     type (streamed exports: the media type only);
//   - a request, only when its answer is 2xx: tests send malformed
//     requests on purpose, but one the document calls invalid must not
//     succeed;
//   - a path the document lacks must be answered 404 route_not_found, and a
//     method it lacks 405 method_not_allowed with the documented methods in
//     Allow.
//
// It is safe for concurrent use, as the tests' clients are.
func validatingTransport(tb testing.TB, base http.RoundTripper) http.RoundTripper {
	tb.Helper()
	spec, err := loadAPISpec()
	if err != nil {
		tb.Fatalf("openapi: %v", err)
	}
	if base == nil {
		base = http.DefaultTransport
	}
	return &specTransport{tb: tb, base: base, spec: spec}
}

type specTransport struct {
	tb   testing.TB
	base http.RoundTripper
	spec *apiSpec
}

func (v *specTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("openapi: read the request body: %w", err)
		}
		body = b
		req = withBody(req, body)
	}
	resp, err := v.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	if problems := v.check(req, body, resp); len(problems) > 0 {
		v.tb.Errorf("openapi: %s %s answered %d against the document:\n\t%s",
			req.Method, req.URL.RequestURI(), resp.StatusCode, strings.Join(problems, "\n\t"))
	}
	return resp, nil
}

// withBody is a copy of req that sends body.
func withBody(req *http.Request, body []byte) *http.Request {
	out := req.Clone(req.Context())
	if body == nil {
		out.Body, out.GetBody = http.NoBody, nil
		return out
	}
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	out.ContentLength = int64(len(body))
	return out
}

// check validates one exchange and returns what does not match. It reads a
// JSON answer's body and puts it back, byte for byte.
func (v *specTransport) check(req *http.Request, body []byte, resp *http.Response) []string {
	var problems []string
	route, params, err := v.spec.router.FindRoute(req)
	documented := err == nil
	switch {
	case errors.Is(err, routers.ErrPathNotFound):
		route = v.fallback(req, http.StatusNotFound, "RouteNotFound")
	case errors.Is(err, routers.ErrMethodNotAllowed):
		route = v.fallback(req, http.StatusMethodNotAllowed, "MethodNotAllowed")
		if resp.StatusCode == http.StatusMethodNotAllowed {
			got, want := methodSet(resp.Header.Get("Allow")), v.allowed(req.URL.Path)
			if !slices.Equal(got, want) {
				problems = append(problems, fmt.Sprintf("Allow %q, but the document has %q for this path",
					resp.Header.Get("Allow"), strings.Join(want, ", ")))
			}
		}
	case err != nil:
		return []string{fmt.Sprintf("find the route: %v", err)}
	}
	mediaType, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	streamed := slices.Contains(streamedMedia, mediaType)
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: specOptions(streamed)}

	if documented && resp.StatusCode >= 200 && resp.StatusCode < 300 {
		check := *in
		check.Request = withBody(req, body) // a copy: the caller's request is not to be touched
		if err := openapi3filter.ValidateRequest(req.Context(), &check); err != nil {
			problems = append(problems, fmt.Sprintf("the request succeeded but does not match the document: %v", err))
		}
	}

	var raw []byte
	if !streamed {
		var readErr error
		raw, readErr = io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		resp.Body = &replayBody{Reader: bytes.NewReader(raw), err: readErr}
		if readErr != nil {
			return problems // the test sees the error when it reads the body
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode,
		Header: resp.Header, Options: in.Options, Body: io.NopCloser(bytes.NewReader(raw))}
	if err := openapi3filter.ValidateResponse(req.Context(), out); err != nil {
		problems = append(problems, fmt.Sprintf("%v\n\tbody: %s", err, truncate(raw, 600)))
	}
	problems = append(problems, undocumentedHeaders(route, resp, streamed, mediaType)...)
	return problems
}

// fallback is a route for a request the document has no operation for,
// whose only answer is the named response (route_not_found or
// method_not_allowed).
func (v *specTransport) fallback(req *http.Request, status int, response string) *routers.Route {
	op := openapi3.NewOperation()
	op.Responses = openapi3.NewResponses(openapi3.WithStatus(status, v.spec.doc.Components.Responses[response]))
	return &routers.Route{Spec: v.spec.doc, Path: req.URL.Path, Method: req.Method, Operation: op}
}

// allowed is the set of methods the document has for path: those of every
// documented path it matches, as the API's Allow header lists them (in any
// order).
func (v *specTransport) allowed(path string) []string {
	var methods []string
	for p, re := range v.spec.paths {
		if re.MatchString(path) {
			for m := range v.spec.doc.Paths.Value(p).Operations() {
				methods = append(methods, m)
			}
		}
	}
	slices.Sort(methods)
	return slices.Compact(methods)
}

// methodSet reads an Allow header as a sorted set of methods.
func methodSet(allow string) []string {
	var out []string
	for _, m := range strings.Split(allow, ",") {
		if m = strings.TrimSpace(m); m != "" {
			out = append(out, m)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// undocumentedHeaders names the answer's headers that its documented
// response does not, besides those net/http sets itself. A streamed
// export's media type is checked here too, as its body is not read.
func undocumentedHeaders(route *routers.Route, resp *http.Response, streamed bool, mediaType string) []string {
	ref := route.Operation.Responses.Status(resp.StatusCode)
	if ref == nil || ref.Value == nil {
		return nil // ValidateResponse has reported the status
	}
	var problems []string
	for name := range resp.Header {
		if slices.Contains(transportHeaders, name) {
			continue
		}
		if !slices.ContainsFunc(keys(ref.Value.Headers), func(h string) bool { return http.CanonicalHeaderKey(h) == name }) {
			problems = append(problems, fmt.Sprintf("header %s: %q is not documented for %d", name, resp.Header.Get(name), resp.StatusCode))
		}
	}
	if streamed && ref.Value.Content.Get(resp.Header.Get("Content-Type")) == nil {
		problems = append(problems, fmt.Sprintf("media type %s is not documented for %d", mediaType, resp.StatusCode))
	}
	slices.Sort(problems)
	return problems
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "…"
}

// replayBody gives back a body already read, then the error that ended the
// reading, if any.
type replayBody struct {
	*bytes.Reader
	err error
}

func (b *replayBody) Read(p []byte) (int, error) {
	n, err := b.Reader.Read(p)
	if err == io.EOF && b.err != nil {
		return n, b.err
	}
	return n, err
}

func (b *replayBody) Close() error { return nil }

// recordingTB records what a validating transport reports instead of
// failing the test, so a test can check that a mismatch is caught.
type recordingTB struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recordingTB) Helper() {}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recordingTB) reports() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.errs, "\n")
}

// TestValidatingTransportCatchesDrift: answers and requests that stray
// from the document are reported, and the deliberate refusals of bad
// requests are not.
func TestValidatingTransportCatchesDrift(t *testing.T) {
	t.Parallel()
	const pid = "0b0f8a7e-6c43-4f1e-9a55-1d1f3c1e2a90"
	property := `{"id":"` + pid + `","name":"Acme","owner_id":"a1","revision":3,"member_count":1,` +
		`"pending_invitation_count":0,"created_at":"2026-03-02T09:00:00Z","updated_at":"2026-03-02T09:00:00Z"}`
	problem := func(status int, code string) string {
		return fmt.Sprintf(`{"type":"urn:roster:problem:%s","title":%q,"status":%d,"detail":"no","code":%q,"instance":"/x","request_id":"r1"}`,
			code, http.StatusText(status), status, code)
	}
	okHeaders := map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store", "X-Request-ID": "r1",
		"ETag": `"3"`, "Roster-Position": "7.7"}
	problemHeaders := map[string]string{"Content-Type": "application/problem+json", "Cache-Control": "no-store", "X-Request-ID": "r1"}
	with := func(base map[string]string, kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range base {
			out[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(out, kv[i])
			} else {
				out[kv[i]] = kv[i+1]
			}
		}
		return out
	}
	tests := []struct {
		name, method, path, body string
		status                   int
		header                   map[string]string
		answer                   string
		want                     string // "" when nothing may be reported
	}{
		{"a documented answer passes", "GET", "/v1/properties/" + pid, "", 200, okHeaders, property, ""},
		{"a field the document lacks is caught", "GET", "/v1/properties/" + pid, "", 200, okHeaders,
			strings.Replace(property, `"name"`, `"colour":"red","name"`, 1), "colour"},
		{"a missing required field is caught", "GET", "/v1/properties/" + pid, "", 200, okHeaders,
			strings.Replace(property, `"owner_id":"a1",`, "", 1), "owner_id"},
		{"a value of the wrong type is caught", "GET", "/v1/properties/" + pid, "", 200, okHeaders,
			strings.Replace(property, `"revision":3`, `"revision":"3"`, 1), "revision"},
		{"a missing required header is caught", "GET", "/v1/properties/" + pid, "", 200, with(okHeaders, "ETag", ""), property, "ETag"},
		{"a header the document lacks is caught", "GET", "/v1/properties/" + pid, "", 200, with(okHeaders, "X-Powered-By", "go"), property, "X-Powered-By"},
		{"an undocumented status is caught", "GET", "/v1/properties/" + pid, "", 418, problemHeaders, problem(418, "internal"), "status is not supported"},
		{"a code of another status is caught", "GET", "/v1/properties/" + pid, "", 404, problemHeaders, problem(404, "forbidden"), "not one of the allowed values"},
		{"a refused bad request passes", "PUT", "/v1/properties/" + pid + "/members/a1/role", `{"role":"owner"}`, 422,
			problemHeaders, problem(422, "invalid_role"), ""},
		{"a bad request that succeeds is caught", "PUT", "/v1/properties/" + pid + "/members/a1/role", `{"role":"owner"}`, 200,
			okHeaders, `{"property_id":"` + pid + `","revision":4,"position":"8.8","changed":true}`, "request succeeded"},
		{"an unknown path answered 404 route_not_found passes", "GET", "/v1/nothing", "", 404, problemHeaders, problem(404, "route_not_found"), ""},
		{"an unknown path answered otherwise is caught", "GET", "/v1/nothing", "", 200, okHeaders, `{}`, "status is not supported"},
		{"a 405 with the documented Allow passes", "PATCH", "/v1/properties/" + pid, "", 405, with(problemHeaders, "Allow", "GET"),
			problem(405, "method_not_allowed"), ""},
		{"a 405 lists the methods in any order", "PUT", "/v1/properties/" + pid + "/invitations", "", 405,
			with(problemHeaders, "Allow", "POST, GET"), problem(405, "method_not_allowed"), ""},
		{"a 405 with another Allow is caught", "PATCH", "/v1/properties/" + pid, "", 405, with(problemHeaders, "Allow", "GET, PATCH"),
			problem(405, "method_not_allowed"), "Allow"},
		{"a CSV export passes unread", "GET", "/v1/properties/" + pid + "/audit?format=csv", "", 200,
			map[string]string{"Content-Type": "text/csv; charset=utf-8; header=present", "Cache-Control": "no-store", "X-Request-ID": "r1",
				"Content-Disposition": `attachment; filename=audit-` + pid + `.csv`, "X-Content-Type-Options": "nosniff"}, "a,b\n", ""},
		{"an export of an undocumented media type is caught", "GET", "/v1/properties/" + pid + "/audit", "", 200,
			with(okHeaders, "Content-Type", "text/html", "ETag", "", "Roster-Position", ""), "<p>", "text/html"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.answer)
			}))
			defer srv.Close()
			rec := &recordingTB{TB: t}
			client := &http.Client{Transport: validatingTransport(rec, srv.Client().Transport)}
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, body)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer x")
			if tt.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if err != nil || string(got) != tt.answer {
				t.Errorf("the test read %q (%v), want the answer %q untouched", got, err, tt.answer)
			}
			reports := rec.reports()
			switch {
			case tt.want == "" && reports != "":
				t.Errorf("reported a valid exchange:\n%s", reports)
			case tt.want != "" && !strings.Contains(reports, tt.want):
				t.Errorf("reports do not name %q:\n%s", tt.want, reports)
			}
		})
	}
}

// TestTheAppServesItsOpenAPIDocument: GET /openapi.json answers, without a
// token, the document the requests of this package are validated against;
// the probes and the refusals of a wrong method pass the validator.
func TestTheAppServesItsOpenAPIDocument(t *testing.T) {
	t.Parallel()
	app := startApp(t)
	if _, ok := app.http.Transport.(*specTransport); !ok {
		app.http.Transport = validatingTransport(t, app.http.Transport)
	}
	r := app.do(t, http.MethodGet, "/openapi.json", "", nil, nil).want(t, http.StatusOK)
	served, err := openapi3.NewLoader().LoadFromData(r.Raw)
	if err != nil {
		t.Fatalf("the served document does not load: %v", err)
	}
	spec, err := loadAPISpec()
	if err != nil {
		t.Fatal(err)
	}
	got, want := documentedOperations(served), documentedOperations(spec.doc)
	if diff := cmp.Diff(want, got); diff != "" || len(got) == 0 {
		t.Errorf("operations of the served document (-embedded +served):\n%s", diff)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		app.do(t, http.MethodGet, path, "", nil, nil).want(t, http.StatusOK)
	}
	// The validator checks Allow against the document; these paths are
	// served by more than one route.
	owner := app.user(t, "owner")
	p := "/v1/properties/" + uuid.NewString() + "/invitations"
	for _, path := range []string{p, p + "/revoke"} {
		app.do(t, http.MethodPatch, path, owner.Token, nil, nil).wantProblem(t, http.StatusMethodNotAllowed, "method_not_allowed")
	}
}

func documentedOperations(doc *openapi3.T) []string {
	var out []string
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			out = append(out, method+" "+path+" "+op.OperationID)
		}
	}
	slices.Sort(out)
	return out
}
