package httpapi

import (
	"net/http"

	"github.com/rosterhq/roster/readmodels"
)

func (s *server) registerHistoryRoutes(r routes) {
	r.handle(http.MethodGet, "/properties/{pid}/members/{aid}/history", s.consistent(s.memberHistory))
}

// historyResponse is the answer of GET .../members/{aid}/history.
type historyResponse struct {
	PropertyID string                  `json:"property_id"`
	AccountID  string                  `json:"account_id"`
	Entries    []readmodels.AuditEntry `json:"entries"`
}

// memberHistory answers every change to one membership, oldest first, from
// the invitation that led to it on; a removed member's history stays. An
// account never a member is member_not_found.
func (s *server) memberHistory(w http.ResponseWriter, r *http.Request) {
	pid, aid := vars(r)["pid"], vars(r)["aid"]
	if err := s.canRead(r, pid); err != nil {
		writeError(w, r, err)
		return
	}
	entries, err := s.reads.MemberHistory(r.Context(), pid, aid)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, historyResponse{PropertyID: pid, AccountID: aid, Entries: entries})
}
