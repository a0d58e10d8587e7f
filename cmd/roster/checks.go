package main

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/accessindex"
	"github.com/rosterhq/roster/infra/auth"
	"github.com/rosterhq/roster/infra/config"
	"github.com/rosterhq/roster/infra/emailaddr"
	"github.com/rosterhq/roster/infra/httpapi"
	"github.com/rosterhq/roster/readmodels"
)

// newAccessIndex is the access index over the read model and the event
// store's feed, which every adapter can follow and give the head of, with
// its size and freshness among the metrics.
func newAccessIndex(cfg config.Config, rm *readmodels.Store, store eventStore, log zerolog.Logger, reg prometheus.Registerer) (*accessindex.Index, error) {
	feed, ok := store.(accessindex.Feed)
	if !ok {
		return nil, fmt.Errorf("access index: event store %s cannot give the head of its feed", cfg.EventStore)
	}
	index := accessindex.New(rm, feed, accessindex.Config{MaxEntries: cfg.CheckIndexSize, MaxStaleness: cfg.CheckMaxStaleness,
		Log: log.With().Str("component", "accessindex").Logger()})
	if err := reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "roster_access_index_entries",
		Help: "Memberships and properties the access index holds."}, func() float64 { return float64(index.Entries()) })); err != nil {
		return nil, err
	}
	if err := reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "roster_access_index_fresh_timestamp_seconds",
		Help: "When the access index last held every event committed by then, as Unix time; 0 before it first did."}, func() float64 {
		if at := index.FreshAt(); !at.IsZero() {
			return float64(at.UnixNano()) / 1e9
		}
		return 0
	})); err != nil {
		return nil, err
	}
	return index, nil
}

// checkAPI is the access-check API over the index, for the services
// ROSTER_CHECK_SERVICES lists.
func checkAPI(cfg config.Config, v *auth.Verifier, index *accessindex.Index, rm *readmodels.Store) httpapi.CheckConfig {
	services := auth.NewServiceCache(v, cfg.CheckScope, nil)
	return httpapi.CheckConfig{Checker: index, Granter: rm, Authenticate: func(ctx context.Context, raw string) (string, error) {
		svc, err := services.Verify(ctx, raw)
		switch {
		case errors.Is(err, auth.ErrPersonToken):
			return "", domain.Errorf(domain.KindForbidden, domain.CodeServiceOnly,
				"the access-check API takes a service's client-credentials token, never a person's")
		case errors.Is(err, auth.ErrScopeMissing):
			return "", domain.Errorf(domain.KindForbidden, domain.CodeServiceNotAllowed,
				"the token of service %q lacks the scope the access-check API asks for: %v", svc.Name, err)
		case err != nil:
			return "", err
		case !slices.Contains(cfg.CheckServices, svc.Name):
			return "", domain.Errorf(domain.KindForbidden, domain.CodeServiceNotAllowed,
				"service %q is not one ROSTER_CHECK_SERVICES accepts", svc.Name)
		}
		return svc.Name, nil
	}}
}

// personAuthenticator takes a person's token for every route but the
// access-check API's; a service's token is refused with a reason that
// says where it belongs.
func personAuthenticator(v *auth.Verifier, scope string) httpapi.Authenticator {
	return func(ctx context.Context, raw string) (domain.Actor, error) {
		c, err := v.Verify(ctx, raw)
		if err != nil {
			if _, serr := v.VerifyService(ctx, raw, scope); serr == nil || errors.Is(serr, auth.ErrScopeMissing) {
				return domain.Actor{}, errors.New("a service's token is good for the access-check API (/v1/access/...) only")
			}
			return domain.Actor{}, err
		}
		return domain.Actor{AccountID: c.Subject, Email: emailaddr.ToASCII(c.Email), EmailVerified: c.EmailVerified}, nil
	}
}
