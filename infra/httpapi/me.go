package httpapi

import (
	"net/http"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/readmodels"
)

func (s *server) registerMeRoutes(r routes) {
	r.handle(http.MethodGet, "/me/invitations", s.consistent(s.myInvitations))
	r.handle(http.MethodGet, "/me/properties", s.consistent(s.myProperties))
}

// myInvitations lists a page of the pending invitations addressed to the
// caller's email, newest first. An unverified email has none: anyone can
// claim an address. limit and cursor are checked either way.
func (s *server) myInvitations(w http.ResponseWriter, r *http.Request) {
	actor := actorOf(r.Context())
	q := r.URL.Query()
	limit, err := limitParam(q)
	if err != nil {
		writeError(w, r, err)
		return
	}
	email, err := domain.NormalizeEmail(actor.Email)
	if err != nil || !actor.EmailVerified {
		// Asking for nobody's invitations still checks the page asked for.
		email = ""
	}
	page, err := s.reads.InvitationsForEmail(r.Context(), email, q.Get("cursor"), limit, s.now())
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		readmodels.MyInvitationPage
		EmailVerified bool `json:"email_verified"`
	}{page, actor.EmailVerified})
}

// myProperties lists a page of the properties the caller is a member of,
// enabled or disabled, with its role and status in each, by name.
func (s *server) myProperties(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := limitParam(q)
	if err != nil {
		writeError(w, r, err)
		return
	}
	page, err := s.reads.MyProperties(r.Context(), actorOf(r.Context()).AccountID, q.Get("cursor"), limit)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}
