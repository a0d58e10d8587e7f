package httpapi

import (
	"net/http"

	"github.com/gorilla/mux"

	"github.com/rosterhq/roster/domain"
)

// Dashboard is the Property Members page: it serves the paths it reports
// it serves, with the page's own headers.
type Dashboard interface {
	http.Handler
	// Serves reports whether the page has a file at path.
	Serves(path string) bool
}

// registerPageRoutes serves the page at / and at /accept (where invitation
// mail links to), and its files under /assets/. They need no token: the
// page signs people in. A file the page lacks, or no page at all, is the
// API's 404, so every error still leaves through writeError.
func registerPageRoutes(r *mux.Router, page Dashboard) {
	serve := func(w http.ResponseWriter, req *http.Request) {
		if page == nil || !page.Serves(req.URL.Path) {
			writeError(w, req, domain.Errorf(kindNoRoute, codeRouteNotFound, "no route %s %s", req.Method, req.URL.Path))
			return
		}
		page.ServeHTTP(w, req)
	}
	for _, path := range []string{"/", "/accept", "/assets/{file}"} {
		r.HandleFunc(path, serve).Methods(http.MethodGet)
	}
}
