package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/client"
	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// Provider is what the dashboard and the Verifier need of an OpenID
// provider, from its discovery document.
type Provider struct {
	// Issuer is the iss of its ID tokens, as configured and as the
	// document confirms.
	Issuer string
	// AuthorizationEndpoint is where the dashboard sends people to sign in.
	AuthorizationEndpoint string
	// TokenEndpoint is where the dashboard trades the code for tokens.
	TokenEndpoint string
	// JWKSURL is where the provider publishes the keys of its ID tokens.
	JWKSURL string
	// EndSessionEndpoint signs people out at the provider; empty when the
	// provider has none.
	EndSessionEndpoint string
}

// Discover reads the discovery document of issuer
// (issuer/.well-known/openid-configuration) with hc (http.DefaultClient
// when nil), giving up after ten seconds. Its errors say the provider
// cannot be used: it does not answer, its document names another issuer (a
// token of the one would be checked against the keys of the other), it
// lacks an endpoint the dashboard needs, or it says it does not support
// PKCE with S256.
func Discover(ctx context.Context, issuer string, hc *http.Client) (Provider, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	doc, err := client.Discover(ctx, issuer, hc)
	if err != nil {
		return Provider{}, fmt.Errorf("auth: discover the OpenID provider %s: %w", issuer, err)
	}
	var missing []error
	for name, v := range map[string]string{"authorization_endpoint": doc.AuthorizationEndpoint,
		"token_endpoint": doc.TokenEndpoint, "jwks_uri": doc.JwksURI} {
		if v == "" {
			missing = append(missing, fmt.Errorf("its discovery document has no %s", name))
		}
	}
	// Providers that leave the list out may still support PKCE; one that
	// lists methods without S256 does not, and the dashboard sends S256.
	if len(doc.CodeChallengeMethodsSupported) > 0 && !slices.Contains(doc.CodeChallengeMethodsSupported, oidc.CodeChallengeMethodS256) {
		missing = append(missing, fmt.Errorf("it supports PKCE with %v, not S256", doc.CodeChallengeMethodsSupported))
	}
	if err := errors.Join(missing...); err != nil {
		return Provider{}, fmt.Errorf("auth: the OpenID provider %s cannot sign people in to the dashboard: %w", issuer, err)
	}
	return Provider{Issuer: doc.Issuer, AuthorizationEndpoint: doc.AuthorizationEndpoint, TokenEndpoint: doc.TokenEndpoint,
		JWKSURL: doc.JwksURI, EndSessionEndpoint: doc.EndSessionEndpoint}, nil
}
