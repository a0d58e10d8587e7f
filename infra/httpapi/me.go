package httpapi

import (
	"net/http"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/readmodels"
)

func (s *server) registerMeRoutes(r routes) {
	r.handle(http.MethodGet, "/me/invitations", s.consistent(s.myInvitations))
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
