package httpapi

import (
	"context"
	"net/http"
	"slices"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/privacy"
)

// Forgetter erases a person: destroys the key their data is sealed with
// and scrubs the read models (privacy.Vault).
type Forgetter interface {
	Forget(ctx context.Context, email string) (privacy.Forgotten, error)
}

// PrivacyConfig is the operator-only privacy API.
type PrivacyConfig struct {
	// Forgetter erases people; without it the route answers 503.
	Forgetter Forgetter
	// Operators are the account IDs (token sub) that may use it
	// (ROSTER_OPERATORS); nobody may when empty.
	Operators []string
}

func (s *server) registerPrivacyRoutes(r routes) {
	r.handle(http.MethodPost, "/admin/privacy/forget", s.forget)
}

// forgetRequest is the body of POST /v1/admin/privacy/forget.
type forgetRequest struct {
	Email string `json:"email"`
}

// forget erases the person with the body's email and answers what was
// done. Only operators may: anyone else gets 403 before the body is read,
// so the route tells a non-operator nothing about anyone.
func (s *server) forget(w http.ResponseWriter, r *http.Request) {
	if a := actorOf(r.Context()); !slices.Contains(s.privacy.Operators, a.AccountID) {
		writeError(w, r, domain.Errorf(domain.KindForbidden, domain.CodeForbidden,
			"only operators may forget people; account %q is not one (ROSTER_OPERATORS)", a.AccountID))
		return
	}
	body, err := readBody(w, r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	var req forgetRequest
	if err := decodeStrict(body, &req); err != nil {
		writeError(w, r, err)
		return
	}
	if err := required("email", req.Email); err != nil {
		writeError(w, r, err)
		return
	}
	if s.privacy.Forgetter == nil {
		writeError(w, r, domain.Errorf(domain.KindUnavailable, domain.CodeNotAvailable, "this server cannot forget people: it has no privacy vault"))
		return
	}
	f, err := s.privacy.Forgetter.Forget(r.Context(), req.Email)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, f)
}
