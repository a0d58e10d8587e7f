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

// myInvitations lists the pending invitations addressed to the caller's
// email. An unverified email has none: anyone can claim an address.
func (s *server) myInvitations(w http.ResponseWriter, r *http.Request) {
	actor := actorOf(r.Context())
	list := []readmodels.MyInvitation{}
	if email, err := domain.NormalizeEmail(actor.Email); err == nil && actor.EmailVerified {
		list, err = s.reads.InvitationsForEmail(r.Context(), email, s.now())
		if err != nil {
			writeError(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"invitations": list, "email_verified": actor.EmailVerified})
}

// myProperties lists the properties the caller is a member of, enabled or
// disabled, with its role and status in each.
func (s *server) myProperties(w http.ResponseWriter, r *http.Request) {
	list, err := s.reads.MyProperties(r.Context(), actorOf(r.Context()).AccountID)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"properties": list})
}
