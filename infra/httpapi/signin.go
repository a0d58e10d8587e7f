package httpapi

import (
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/emailaddr"
)

// SignInConfig is how the dashboard signs people in: GET /v1/auth/config
// tells the page, and the page shows a form for an email (DevLogin), a
// button to the identity provider (OIDC), or says that neither is set up.
type SignInConfig struct {
	// DevLogin, when set, mints a development token for a normalised
	// email and serves POST /v1/auth/dev-login; without it that route
	// does not exist.
	DevLogin func(email string, now time.Time) (DevToken, error)
	// OIDC, when set, is the OpenID provider the page signs in with:
	// authorization code with PKCE, the ID token as the bearer token.
	OIDC *OIDCSignIn
}

// DevToken is a development token as POST /v1/auth/dev-login answers it.
type DevToken struct {
	Token     string    `json:"token"`
	TokenType string    `json:"token_type"`
	AccountID string    `json:"account_id"`
	Email     string    `json:"email"`
	ExpiresAt time.Time `json:"expires_at"`
}

// OIDCSignIn is what the page needs to sign in at an OpenID provider.
type OIDCSignIn struct {
	Issuer                string `json:"issuer"`
	ClientID              string `json:"client_id"`
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
	// EndSessionEndpoint signs out at the provider; empty when it has none.
	EndSessionEndpoint string `json:"end_session_endpoint"`
	// Scope is what the page asks for: the ID token must carry the email.
	Scope string `json:"scope"`
}

// signInConfig is the answer of GET /v1/auth/config.
type signInConfig struct {
	DevLogin bool        `json:"dev_login"`
	OIDC     *OIDCSignIn `json:"oidc"`
}

// registerSignInRoutes serves how to sign in, development sign-in when it
// is on, and who the caller is. The first two need no token: they are how
// a caller gets one.
func (s *server) registerSignInRoutes(r *mux.Router, v1 routes, c SignInConfig) {
	r.HandleFunc("/v1/auth/config", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, signInConfig{DevLogin: c.DevLogin != nil, OIDC: c.OIDC})
	}).Methods(http.MethodGet)
	r.HandleFunc("/v1/auth/dev-login", s.devLogin(c.DevLogin)).Methods(http.MethodPost)
	v1.handle(http.MethodGet, "/me", s.me)
}

// devLogin answers a development token for the email in the body, which is
// normalised first and refused by name when it is no address. Without mint
// (ROSTER_DEV_LOGIN is off) it answers that development sign-in is off.
func (s *server) devLogin(mint func(string, time.Time) (DevToken, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if mint == nil {
			writeError(w, r, domain.Errorf(domain.KindNotFound, domain.CodeDevLoginOff,
				"development sign-in is off: it is turned on with ROSTER_DEV_LOGIN=true on a loopback address"))
			return
		}
		body, err := readBody(w, r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		var req struct {
			Email string `json:"email"`
		}
		if err := decodeStrict(body, &req); err != nil {
			writeError(w, r, err)
			return
		}
		if err := required("email", req.Email); err != nil {
			writeError(w, r, err)
			return
		}
		email, err := emailaddr.Normalize(req.Email)
		if err != nil {
			writeError(w, r, err)
			return
		}
		tok, err := mint(email, s.now())
		if err != nil {
			writeError(w, r, err)
			return
		}
		tok.TokenType = "Bearer"
		writeJSON(w, http.StatusOK, tok)
	}
}

// me answers who the bearer token says the caller is, so the page knows
// its own account among the members without reading the token.
func (s *server) me(w http.ResponseWriter, r *http.Request) {
	a := actorOf(r.Context())
	writeJSON(w, http.StatusOK, map[string]any{"account_id": a.AccountID, "email": a.Email, "email_verified": a.EmailVerified})
}
