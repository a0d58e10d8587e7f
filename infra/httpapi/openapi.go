package httpapi

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gorilla/mux"
)

// openAPIYAML is the OpenAPI 3 document of every route, kept in the
// repository as YAML because it is edited by hand. The end-to-end tests
// validate every request and answer they make against it, so it cannot
// drift from the code unnoticed.
//
//go:embed openapi.yaml
var openAPIYAML []byte

// OpenAPIDocument returns the API's OpenAPI 3 document as kept in the
// repository (YAML); GET /openapi.json serves the same document as JSON.
// It returns a fresh copy and is safe for concurrent use.
func OpenAPIDocument() []byte { return bytes.Clone(openAPIYAML) }

// openAPIJSON is the document converted to JSON, once per process: the
// embedded YAML cannot change while it runs.
var openAPIJSON = sync.OnceValues(func() ([]byte, error) {
	doc, err := openapi3.NewLoader().LoadFromData(openAPIYAML)
	if err != nil {
		return nil, fmt.Errorf("load the OpenAPI document: %w", err)
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encode the OpenAPI document as JSON: %w", err)
	}
	return out, nil
})

// testHookRouter, when set by a test, receives the router New builds, so
// the test can walk its routes once New has registered them all.
var testHookRouter atomic.Pointer[func(*mux.Router)]

// registerOpenAPIRoute serves GET /openapi.json, without authentication.
// The document is converted from YAML here, once; should that fail (the
// unit tests make sure it does not), the route answers 500 rather than
// stopping the API.
func registerOpenAPIRoute(r *mux.Router) {
	doc, err := openAPIJSON()
	r.HandleFunc("/openapi.json", func(w http.ResponseWriter, req *http.Request) {
		if err != nil {
			writeError(w, req, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(doc)
	}).Methods(http.MethodGet)
	if hook := testHookRouter.Load(); hook != nil {
		(*hook)(r)
	}
}
