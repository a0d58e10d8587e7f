package httpapi

import (
	"bytes"
	"context"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/commands"
	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/emailaddr"
	"github.com/rosterhq/roster/readmodels"
)

func (s *server) registerInvitationRoutes(r routes) {
	r.handle(http.MethodPost, "/properties/{pid}/invitations", s.invite)
	r.handle(http.MethodGet, "/properties/{pid}/invitations", s.consistent(s.listInvitations))
	r.handle(http.MethodPost, "/properties/{pid}/invitations/revoke", s.revokeSelection)
	r.handle(http.MethodDelete, "/properties/{pid}/invitations/{iid}", s.revokeOne)
	r.handle(http.MethodPost, "/properties/{pid}/invitations/{iid}/resend", s.resend)
	r.handle(http.MethodPost, "/properties/{pid}/invitations/{iid}/accept", s.answer(true))
	r.handle(http.MethodPost, "/properties/{pid}/invitations/{iid}/decline", s.answer(false))
	r.handle(http.MethodPost, "/invitations/accept", s.acceptToken)
}

type inviteRow struct {
	Email string `json:"email"`
	Role  string `json:"role"`
	// Lifetime is how long the invitation lasts, in seconds; absent (or 0)
	// takes the property's default.
	Lifetime int64 `json:"lifetime"`
	// AccessUntil, when present, is the RFC 3339 moment the membership
	// the invitation offers ends.
	AccessUntil *string `json:"access_until"`
}

// inviteBody is one invitation ({email, role, lifetime}) or many ({invitations: [...]}).
type inviteBody struct {
	Email       *string     `json:"email"`
	Role        *string     `json:"role"`
	Lifetime    *int64      `json:"lifetime"`
	AccessUntil *string     `json:"access_until"`
	Invitations []inviteRow `json:"invitations"`
}

// invitationView is an invitation as a command's answer shows it.
type invitationView struct {
	ID        string      `json:"id"`
	Email     string      `json:"email"`
	Role      domain.Role `json:"role"`
	Status    string      `json:"status"`
	ExpiresAt time.Time   `json:"expires_at"`
}

// parseInviteRows accepts a single {email, role}, {invitations: [...]}, or a
// bare array of rows: a dashboard form and a CSV upload send different shapes.
func parseInviteRows(body []byte) ([]commands.InviteRow, error) {
	var rows []inviteRow
	if trimmed := bytes.TrimSpace(body); len(trimmed) > 0 && trimmed[0] == '[' {
		if err := decodeStrict(body, &rows); err != nil {
			return nil, err
		}
	} else {
		var b inviteBody
		if err := decodeStrict(body, &b); err != nil {
			return nil, err
		}
		single := b.Email != nil || b.Role != nil || b.Lifetime != nil || b.AccessUntil != nil
		switch {
		case single && b.Invitations != nil:
			return nil, domain.Errorf(domain.KindMalformed, domain.CodeMalformedJSON,
				"send either email and role, or invitations, not both")
		case single:
			rows = []inviteRow{{Email: deref(b.Email), Role: deref(b.Role)}}
			if b.Lifetime != nil {
				rows[0].Lifetime = *b.Lifetime
			}
			rows[0].AccessUntil = b.AccessUntil
		default:
			rows = b.Invitations
		}
	}
	out := make([]commands.InviteRow, len(rows))
	for i, r := range rows {
		out[i] = commands.InviteRow{Email: emailaddr.ToASCII(r.Email), Role: r.Role, Lifetime: domain.Lifetime(r.Lifetime),
			AccessUntil: deref(r.AccessUntil)}
	}
	return out, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (s *server) invite(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	rows, err := parseInviteRows(body)
	if err != nil {
		writeError(w, r, err)
		return
	}
	m, err := commandMeta(r, body)
	if err != nil {
		writeError(w, r, err)
		return
	}
	release, err := s.reserveInvitations(r, m, rows)
	if err != nil {
		writeError(w, r, err)
		return
	}
	res, err := s.cmd.Invite.Handle(r.Context(), m, commands.Invite{PropertyID: vars(r)["pid"], Rows: rows})
	if err != nil {
		// Nothing was invited: the quota goes back. (A repeat's was
		// counted by its first attempt and stays.)
		if rerr := release(r.Context()); rerr != nil {
			zerolog.Ctx(r.Context()).Warn().Err(rerr).Msg("release the invitations' quota")
		}
		writeError(w, r, err)
		return
	}
	views := []invitationView{}
	for _, e := range res.Events {
		if inv, ok := e.(domain.MemberInvited); ok {
			views = append(views, invitationView{ID: inv.InvitationID, Email: inv.Email, Role: inv.Role,
				Status: string(domain.InvitePending), ExpiresAt: inv.ExpiresAt})
		}
	}
	writeResult(w, http.StatusCreated, res, struct {
		commandResponse
		Invitations []invitationView `json:"invitations"`
	}{newCommandResponse(res), views})
}

// reserveInvitations takes the quota of the invitation rows before the
// command writes anything (every row counts, so a bulk invite is refused
// whole past a limit), and returns what gives it back.
func (s *server) reserveInvitations(r *http.Request, m commands.Meta, rows []commands.InviteRow) (release func(context.Context) error, err error) {
	if s.limits.ReserveInvitations == nil {
		return func(context.Context) error { return nil }, nil
	}
	emails := make([]string, len(rows))
	for i, row := range rows {
		emails[i] = row.Email
	}
	pid := vars(r)["pid"]
	var commandID string
	if m.IdempotencyKey != "" {
		commandID = commands.CommandID(m, pid).String()
	}
	return s.limits.ReserveInvitations(r.Context(), commandID, pid, m.Actor.AccountID, emails)
}

func (s *server) resend(w http.ResponseWriter, r *http.Request) {
	simpleCommand(w, r, nil, func(m commands.Meta) (commands.Result, error) {
		return s.cmd.Resend.Handle(r.Context(), m, commands.Resend{PropertyID: vars(r)["pid"], InvitationID: vars(r)["iid"]})
	})
}

func (s *server) revokeOne(w http.ResponseWriter, r *http.Request) {
	simpleCommand(w, r, nil, func(m commands.Meta) (commands.Result, error) {
		return s.cmd.Revoke.Handle(r.Context(), m, commands.Revoke{PropertyID: vars(r)["pid"], InvitationIDs: []string{vars(r)["iid"]}})
	})
}

func (s *server) revokeSelection(w http.ResponseWriter, r *http.Request) {
	var body struct {
		IDs []string `json:"ids"`
	}
	simpleCommand(w, r, &body, func(m commands.Meta) (commands.Result, error) {
		return s.cmd.Revoke.Handle(r.Context(), m, commands.Revoke{PropertyID: vars(r)["pid"], InvitationIDs: body.IDs})
	})
}

// membershipResponse answers an accepted invitation with the new membership.
type membershipResponse struct {
	commandResponse
	InvitationID string      `json:"invitation_id"`
	AccountID    string      `json:"account_id"`
	Role         domain.Role `json:"role"`
}

func writeAnswer(w http.ResponseWriter, res commands.Result) {
	out := membershipResponse{commandResponse: newCommandResponse(res)}
	for _, e := range res.Events {
		switch e := e.(type) {
		case domain.MemberJoined:
			out.InvitationID, out.AccountID, out.Role = e.InvitationID, e.AccountID, e.Role
		case domain.InvitationDeclined:
			out.InvitationID = e.InvitationID
		}
	}
	writeResult(w, http.StatusOK, res, out)
}

func (s *server) answer(accept bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		m, err := readCommand(w, r, nil)
		if err != nil {
			writeError(w, r, err)
			return
		}
		res, err := s.cmd.Answer.Handle(r.Context(), m,
			commands.Answer{PropertyID: vars(r)["pid"], InvitationID: vars(r)["iid"], Accept: accept})
		if err != nil {
			writeError(w, r, err)
			return
		}
		writeAnswer(w, res)
	}
}

func (s *server) acceptToken(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Token string `json:"token"`
	}
	m, err := readCommand(w, r, &body)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if err := required("token", body.Token); err != nil {
		writeError(w, r, err)
		return
	}
	res, err := s.cmd.AcceptToken.Handle(r.Context(), m, commands.AcceptToken{Token: body.Token})
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeAnswer(w, res)
}

// listInvitations answers one page of the property's invitations with the
// status asked for, newest first, paged by cursor as the members are.
func (s *server) listInvitations(w http.ResponseWriter, r *http.Request) {
	pid := vars(r)["pid"]
	if err := s.canRead(r, pid); err != nil {
		writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	limit, err := limitParam(q)
	if err != nil {
		writeError(w, r, err)
		return
	}
	page, err := s.reads.Invitations(r.Context(), pid,
		readmodels.InvitationFilter{Status: q.Get("status"), Cursor: q.Get("cursor"), Limit: limit}, s.now())
	if err != nil {
		writeError(w, r, err)
		return
	}
	items, err := s.withInviters(r, pid, page.Invitations)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, invitationPage{Invitations: items, NextCursor: page.NextCursor})
}

// invitationPage is one page of GET .../invitations.
type invitationPage struct {
	Invitations []invitationItem `json:"invitations"`
	// NextCursor fetches the next page; it is empty on the last page.
	NextCursor string `json:"next_cursor"`
}

// invitationItem is an invitation as GET .../invitations lists it, with
// the email of the member who invited, so the dashboard can say who did.
type invitationItem struct {
	readmodels.Invitation
	// InvitedByEmail is empty when the inviter is no longer a member.
	InvitedByEmail string `json:"invited_by_email"`
}

// withInviters adds the inviters' emails to list, from the members read
// model, one lookup per inviter: a page of invitations has few.
func (s *server) withInviters(r *http.Request, pid string, list []readmodels.Invitation) ([]invitationItem, error) {
	emails := map[string]string{}
	items := make([]invitationItem, len(list))
	for i, inv := range list {
		email, seen := emails[inv.InvitedBy]
		if !seen {
			m, ok, err := s.reads.Membership(r.Context(), pid, inv.InvitedBy)
			if err != nil {
				return nil, err
			}
			if ok {
				email = m.Email
			}
			emails[inv.InvitedBy] = email
		}
		items[i] = invitationItem{Invitation: inv, InvitedByEmail: email}
	}
	return items, nil
}
