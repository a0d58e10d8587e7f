package httpapi

import (
	"net/http"

	"github.com/rosterhq/roster/commands"
	"github.com/rosterhq/roster/domain"
)

// setAccessUntil answers PUT .../members/{aid}/access-until: the body's
// access_until is required, a string; clearing is DELETE.
func (s *server) setAccessUntil(w http.ResponseWriter, r *http.Request) {
	var body struct {
		AccessUntil *string `json:"access_until"`
	}
	simpleCommand(w, r, &body, func(m commands.Meta) (commands.Result, error) {
		if body.AccessUntil == nil || *body.AccessUntil == "" {
			return commands.Result{}, domain.Errorf(domain.KindInvalid, domain.CodeInvalidAccessUntil,
				"access_until is required, an RFC 3339 time such as 2026-01-31T18:00:00Z; to clear it, send DELETE")
		}
		return s.cmd.SetAccessUntil.Handle(r.Context(), m,
			commands.SetAccessUntil{PropertyID: vars(r)["pid"], AccountID: vars(r)["aid"], AccessUntil: *body.AccessUntil})
	})
}

// clearAccessUntil answers DELETE .../members/{aid}/access-until.
func (s *server) clearAccessUntil(w http.ResponseWriter, r *http.Request) {
	simpleCommand(w, r, nil, func(m commands.Meta) (commands.Result, error) {
		return s.cmd.SetAccessUntil.Handle(r.Context(), m,
			commands.SetAccessUntil{PropertyID: vars(r)["pid"], AccountID: vars(r)["aid"]})
	})
}
