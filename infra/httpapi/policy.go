package httpapi

import (
	"net/http"
	"slices"

	"github.com/rosterhq/roster/commands"
	"github.com/rosterhq/roster/domain"
)

func (s *server) registerPolicyRoutes(r routes) {
	r.handle(http.MethodGet, "/properties/{pid}/invitation-policy", s.consistent(s.getInvitationPolicy))
	r.handle(http.MethodPut, "/properties/{pid}/invitation-policy", s.setInvitationPolicy)
}

// invitationPolicyView is a property's invitation policy as the API shows
// it: lifetimes in seconds, with the bounds every lifetime keeps to, so a
// form can offer only what will be accepted.
type invitationPolicyView struct {
	// DefaultLifetime is how long an invitation lasts when its inviter
	// chooses no lifetime.
	DefaultLifetime int64 `json:"default_lifetime"`
	// MaximumLifetime is the longest lifetime an inviter may choose.
	MaximumLifetime int64 `json:"maximum_lifetime"`
	// Source is "property" when the property's admins set the policy, and
	// "service" while it follows the service's default (ROSTER_INVITE_TTL).
	Source string `json:"source"`
	// MinLifetime and MaxLifetime bound every lifetime.
	MinLifetime int64 `json:"min_lifetime"`
	MaxLifetime int64 `json:"max_lifetime"`
}

func newPolicyView(p domain.InvitationPolicy, set bool) invitationPolicyView {
	source := "service"
	if set {
		source = "property"
	}
	return invitationPolicyView{DefaultLifetime: p.Default.Seconds(), MaximumLifetime: p.Maximum.Seconds(), Source: source,
		MinLifetime: domain.MinLifetime.Seconds(), MaxLifetime: domain.MaxLifetime.Seconds()}
}

// getInvitationPolicy answers the policy to those who may change it (the
// administration-settings permission); another member is refused with 403,
// anyone else is told the property does not exist.
func (s *server) getInvitationPolicy(w http.ResponseWriter, r *http.Request) {
	pid := vars(r)["pid"]
	m, ok, err := s.reads.Membership(r.Context(), pid, actorOf(r.Context()).AccountID)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if !ok || !m.CanRead() {
		writeError(w, r, notReadable(pid))
		return
	}
	allowed := domain.Allowed(m.Role, m.Owner, m.Status, domain.PermAdministrateSettings)
	if domain.IsCustomRole(m.Role) {
		// The access read model knows what a custom role grants; the
		// members one only its ID.
		a, err := s.reads.Access(r.Context(), pid, m.AccountID)
		if err != nil {
			writeError(w, r, err)
			return
		}
		allowed = slices.Contains(a.Permissions, domain.PermAdministrateSettings)
	}
	if !allowed {
		writeError(w, r, domain.Errorf(domain.KindForbidden, domain.CodeForbidden,
			"your role %s does not have the permission %s", m.Role, domain.PermAdministrateSettings))
		return
	}
	stored, err := s.reads.InvitationPolicy(r.Context(), pid)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if stored.DefaultLifetimeSeconds == 0 {
		writeJSON(w, http.StatusOK, newPolicyView(s.cmd.ServicePolicy(), false))
		return
	}
	writeJSON(w, http.StatusOK, newPolicyView(domain.InvitationPolicy{Default: domain.Lifetime(stored.DefaultLifetimeSeconds),
		Maximum: domain.Lifetime(stored.MaximumLifetimeSeconds)}, true))
}

// policyBody is PUT .../invitation-policy: both lifetimes, in seconds.
type policyBody struct {
	DefaultLifetime *int64 `json:"default_lifetime"`
	MaximumLifetime *int64 `json:"maximum_lifetime"`
}

// policy returns the policy the body asks for, or an *Error naming each
// lifetime missing.
func (b policyBody) policy() (domain.InvitationPolicy, error) {
	var problems []domain.Problem
	for _, f := range []struct {
		name string
		v    *int64
	}{{"default_lifetime", b.DefaultLifetime}, {"maximum_lifetime", b.MaximumLifetime}} {
		if f.v == nil {
			problems = append(problems, domain.Problem{Index: -1, Field: f.name, Code: domain.CodeInvalidRequest,
				Message: f.name + " is required, in seconds"})
		}
	}
	if len(problems) > 0 {
		return domain.InvitationPolicy{}, &domain.Error{Kind: domain.KindInvalid, Code: domain.CodeInvalidRequest,
			Message: problems[0].Message, Problems: problems}
	}
	return domain.InvitationPolicy{Default: domain.Lifetime(*b.DefaultLifetime), Maximum: domain.Lifetime(*b.MaximumLifetime)}, nil
}

func (s *server) setInvitationPolicy(w http.ResponseWriter, r *http.Request) {
	var body policyBody
	m, err := readCommand(w, r, &body)
	if err != nil {
		writeError(w, r, err)
		return
	}
	policy, err := body.policy()
	if err != nil {
		writeError(w, r, err)
		return
	}
	res, err := s.cmd.InvitationPolicy.Handle(r.Context(), m, commands.SetInvitationPolicy{PropertyID: vars(r)["pid"], Policy: policy})
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeResult(w, http.StatusOK, res, struct {
		commandResponse
		invitationPolicyView
	}{newCommandResponse(res), newPolicyView(policy, true)})
}
