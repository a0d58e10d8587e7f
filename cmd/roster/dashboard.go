package main

import (
	"context"
	"fmt"
	"time"

	"github.com/rosterhq/roster/infra/auth"
	"github.com/rosterhq/roster/infra/config"
	"github.com/rosterhq/roster/infra/dashboard"
	"github.com/rosterhq/roster/infra/httpapi"
)

// devTokenTTL is how long a development sign-in lasts: a working day, and
// short enough that a token copied out of a browser soon stops working.
const devTokenTTL = 8 * time.Hour

// oidcScope is what the dashboard asks the identity provider for: Roster
// needs the email and whether it is verified in the ID token.
const oidcScope = "openid email profile"

// dashboardSignIn is how the dashboard signs people in, and the JWKS its
// tokens are verified with: ROSTER_JWKS_URL, else the one the OpenID
// provider publishes (its ID tokens are the bearer tokens). Its errors say
// the provider could not be discovered.
func dashboardSignIn(ctx context.Context, cfg config.Config) (httpapi.SignInConfig, string, error) {
	var c httpapi.SignInConfig
	if cfg.DevLogin {
		secret := []byte(cfg.JWTSecret)
		c.DevLogin = func(email string, now time.Time) (httpapi.DevToken, error) {
			t, err := auth.MintDev(secret, cfg.JWTIssuer, cfg.JWTAudience, email, devTokenTTL, now)
			if err != nil {
				return httpapi.DevToken{}, err
			}
			return httpapi.DevToken{Token: t.Token, AccountID: t.AccountID, Email: t.Email, ExpiresAt: t.ExpiresAt}, nil
		}
	}
	jwksURL := cfg.JWKSURL
	if cfg.OIDCIssuer != "" {
		p, err := auth.Discover(ctx, cfg.OIDCIssuer, nil)
		if err != nil {
			return c, "", fmt.Errorf("dashboard sign-in (ROSTER_OIDC_ISSUER): %w", err)
		}
		c.OIDC = &httpapi.OIDCSignIn{Issuer: p.Issuer, ClientID: cfg.OIDCClientID, AuthorizationEndpoint: p.AuthorizationEndpoint,
			TokenEndpoint: p.TokenEndpoint, EndSessionEndpoint: p.EndSessionEndpoint, Scope: oidcScope}
		if jwksURL == "" {
			jwksURL = p.JWKSURL
		}
	}
	return c, jwksURL, nil
}

// dashboardPage is the Property Members page, allowed to fetch from the
// OpenID provider's token endpoint when it signs in there.
func dashboardPage(signIn httpapi.SignInConfig) (*dashboard.Page, error) {
	var connect []string
	if signIn.OIDC != nil {
		connect = append(connect, signIn.OIDC.TokenEndpoint)
	}
	return dashboard.New(dashboard.Config{ConnectTo: connect})
}
