package httpapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/rosterhq/roster/infra/chain"
)

// ChainAuditor verifies a property's tamper-evident history (infra/chain)
// from the raw stored events, and signs its head. *chain.Auditor is one.
type ChainAuditor interface {
	// Verify reports the first event of the property's stream that does not
	// verify; a broken chain is a report, not an error.
	Verify(ctx context.Context, propertyID string) (chain.Report, error)
	// SignHead signs the head of a chain that verifies; a broken one is a
	// conflict, and without a key it is unavailable.
	SignHead(ctx context.Context, propertyID string) (chain.Head, error)
	// PublicKey describes the key heads are signed with.
	PublicKey() (chain.KeyInfo, error)
}

// errNoChain answers the chain routes of an API built without an auditor:
// a wiring fault, so an internal error.
var errNoChain = errors.New("no chain auditor is wired into the API")

func (s *server) registerChainRoutes(r routes) {
	r.handle(http.MethodGet, "/properties/{pid}/audit/verify", s.consistent(s.verifyChain))
	r.handle(http.MethodGet, "/properties/{pid}/audit/head", s.consistent(s.chainHead))
	r.handle(http.MethodGet, "/audit/public-key", s.chainPublicKey)
}

// verifyChain answers the verification of the property's history: 200
// whether or not it verifies, with the first problem when it does not. The
// same members may ask as may read the audit trail.
func (s *server) verifyChain(w http.ResponseWriter, r *http.Request) {
	pid := vars(r)["pid"]
	if err := s.canRead(r, pid); err != nil {
		writeError(w, r, err)
		return
	}
	if s.chain == nil {
		writeError(w, r, errNoChain)
		return
	}
	rep, err := s.chain.Verify(r.Context(), pid)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// chainHead answers the property's head, signed now, for a reviewer to
// keep elsewhere and check later.
func (s *server) chainHead(w http.ResponseWriter, r *http.Request) {
	pid := vars(r)["pid"]
	if err := s.canRead(r, pid); err != nil {
		writeError(w, r, err)
		return
	}
	if s.chain == nil {
		writeError(w, r, errNoChain)
		return
	}
	h, err := s.chain.SignHead(r.Context(), pid)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h)
}

// chainPublicKey answers the key that checks signed heads, to anyone
// signed in: it is public, and a reviewer checks heads offline with it.
func (s *server) chainPublicKey(w http.ResponseWriter, r *http.Request) {
	if s.chain == nil {
		writeError(w, r, errNoChain)
		return
	}
	k, err := s.chain.PublicKey()
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, k)
}
