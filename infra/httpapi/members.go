package httpapi

import (
	"net/http"

	"github.com/rosterhq/roster/commands"
	"github.com/rosterhq/roster/readmodels"
)

func (s *server) registerMemberRoutes(r routes) {
	r.handle(http.MethodGet, "/properties/{pid}/members", s.consistent(s.listMembers))
	r.handle(http.MethodPost, "/properties/{pid}/members/import", s.importMembers)
	r.handle(http.MethodPut, "/properties/{pid}/members/{aid}/role", s.changeRole)
	r.handle(http.MethodPost, "/properties/{pid}/members/{aid}/disable", s.setAccess(false))
	r.handle(http.MethodPost, "/properties/{pid}/members/{aid}/enable", s.setAccess(true))
	r.handle(http.MethodDelete, "/properties/{pid}/members/{aid}", s.removeMember)
	r.handle(http.MethodPut, "/properties/{pid}/members/{aid}/access-until", s.setAccessUntil)
	r.handle(http.MethodDelete, "/properties/{pid}/members/{aid}/access-until", s.clearAccessUntil)
}

func (s *server) listMembers(w http.ResponseWriter, r *http.Request) {
	pid := vars(r)["pid"]
	if err := s.canRead(r, pid); err != nil {
		writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	f := readmodels.MemberFilter{Role: q.Get("role"), Status: q.Get("status"), Query: q.Get("q"), Cursor: q.Get("cursor")}
	limit, err := limitParam(q)
	if err != nil {
		writeError(w, r, err)
		return
	}
	f.Limit = limit
	at, err := asOfParam(q)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if at != nil {
		s.answerAsOf(w, r, func(h HistoryReader) (any, error) { return h.Members(r.Context(), pid, *at, f) })
		return
	}
	page, err := s.reads.Members(r.Context(), pid, f)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

func (s *server) changeRole(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Role string `json:"role"`
	}
	simpleCommand(w, r, &body, func(m commands.Meta) (commands.Result, error) {
		return s.cmd.ChangeRole.Handle(r.Context(), m,
			commands.ChangeRole{PropertyID: vars(r)["pid"], AccountID: vars(r)["aid"], Role: body.Role})
	})
}

func (s *server) setAccess(enabled bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		simpleCommand(w, r, nil, func(m commands.Meta) (commands.Result, error) {
			return s.cmd.SetAccess.Handle(r.Context(), m,
				commands.SetAccess{PropertyID: vars(r)["pid"], AccountID: vars(r)["aid"], Enabled: enabled})
		})
	}
}

func (s *server) removeMember(w http.ResponseWriter, r *http.Request) {
	simpleCommand(w, r, nil, func(m commands.Meta) (commands.Result, error) {
		return s.cmd.Remove.Handle(r.Context(), m, commands.Remove{PropertyID: vars(r)["pid"], AccountID: vars(r)["aid"]})
	})
}
