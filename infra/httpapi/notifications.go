package httpapi

import (
	"net/http"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/readmodels"
)

func (s *server) registerNotificationRoutes(r routes) {
	r.handle(http.MethodGet, "/me/notifications", s.consistent(s.notifications))
	r.handle(http.MethodPost, "/me/notifications/read", s.markNotificationsRead)
}

// recipient is whom the caller's notifications are for: its account, and
// its email only when verified, since invitations are addressed to emails
// and anyone can claim an unverified one.
func recipient(a domain.Actor) readmodels.Recipient {
	to := readmodels.Recipient{AccountID: a.AccountID}
	if email, err := domain.NormalizeEmail(a.Email); err == nil && a.EmailVerified {
		to.Email = email
	}
	return to
}

// notifications answers the caller's notifications, newest first, a page
// at a time, with the count of unread ones.
func (s *server) notifications(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := limitParam(q)
	if err != nil {
		writeError(w, r, err)
		return
	}
	f := readmodels.NotificationFilter{Cursor: q.Get("cursor"), Limit: limit}
	page, err := s.reads.Notifications(r.Context(), recipient(actorOf(r.Context())), f)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

// markReadRequest is the body of POST /v1/me/notifications/read: either
// ids or all, not both.
type markReadRequest struct {
	IDs *[]string `json:"ids"`
	All *bool     `json:"all"`
}

// markNotificationsRead marks the caller's notifications read, the listed
// ones or all of them, and answers how many it marked and how many stay
// unread. IDs that are not the caller's are ignored: the answer says
// nothing about notifications of others.
func (s *server) markNotificationsRead(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	var req markReadRequest
	if err := decodeStrict(body, &req); err != nil {
		writeError(w, r, err)
		return
	}
	all := req.All != nil && *req.All
	var ids []string
	switch {
	case req.IDs != nil && req.All != nil:
		err = invalidField("all", "give either ids or all, not both")
	case req.All != nil && !all:
		err = invalidField("all", "must be true when given; to mark some, give ids")
	case req.IDs == nil && req.All == nil:
		err = invalidField("ids", "give ids (a list of notification IDs) or all: true")
	case req.IDs != nil && len(*req.IDs) == 0:
		err = invalidField("ids", "must list at least one notification ID")
	case req.IDs != nil:
		ids = *req.IDs
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	to := recipient(actorOf(r.Context()))
	marked, err := s.reads.MarkNotificationsRead(r.Context(), to, ids, all)
	if err != nil {
		writeError(w, r, err)
		return
	}
	unread, err := s.reads.UnreadNotifications(r.Context(), to)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"marked": marked, "unread": unread})
}

// invalidField is the 422 for a request field whose value is wrong.
func invalidField(field, why string) error {
	return &domain.Error{Kind: domain.KindInvalid, Code: domain.CodeInvalidRequest, Message: field + ": " + why,
		Problems: []domain.Problem{{Index: -1, Field: field, Code: domain.CodeInvalidRequest, Message: why}}}
}
