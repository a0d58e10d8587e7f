package httpapi

import "net/http"

func (s *server) registerAccessRoutes(r routes) {
	r.handle(http.MethodGet, "/properties/{pid}/members/{aid}/permissions", s.consistent(s.permissions))
}

// permissions answers what account aid may do on the property: its role,
// status, owner flag and the permissions they give (none when disabled).
// The caller must be an enabled member; a target that is not a member is
// member_not_found. With as_of, the answer is the account's access at that
// moment, from the events, in the same shape with as_of added.
func (s *server) permissions(w http.ResponseWriter, r *http.Request) {
	pid := vars(r)["pid"]
	if err := s.canRead(r, pid); err != nil {
		writeError(w, r, err)
		return
	}
	at, err := asOfParam(r.URL.Query())
	if err != nil {
		writeError(w, r, err)
		return
	}
	if at != nil {
		s.answerAsOf(w, r, func(h HistoryReader) (any, error) { return h.Access(r.Context(), pid, vars(r)["aid"], *at) })
		return
	}
	a, err := s.reads.Access(r.Context(), pid, vars(r)["aid"])
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}
