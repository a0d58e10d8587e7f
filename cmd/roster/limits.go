package main

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rosterhq/roster/infra/config"
	"github.com/rosterhq/roster/infra/consumers"
	"github.com/rosterhq/roster/infra/httpapi"
	"github.com/rosterhq/roster/infra/limits"
)

// newLimits builds the limits on writes (docs/ARCHITECTURE.md section 10):
// the invitation counters in PostgreSQL, shared by every instance, and the
// buckets per account and per address in memory, each instance allowed its
// share of the quota by the live instances its heartbeat counts.
func newLimits(cfg config.Config, pool *pgxpool.Pool, subs *consumers.Consumers, reg prometheus.Registerer) (httpapi.Limits, error) {
	m, err := limits.NewMetrics(reg)
	if err != nil {
		return httpapi.Limits{}, err
	}
	l := cfg.Limits
	store := limits.NewStore(limits.StoreConfig{Pool: pool, Metrics: m, Limits: limits.InviteLimits{
		PerActorHour: l.InvitationsPerActorHour, PerPropertyDay: l.InvitationsPerPropertyDay, NewEmailsPerPropertyDay: l.NewEmailsPerPropertyDay}})
	cmds, err := limits.NewKeyed(limits.KeyedConfig{Name: limits.CommandsPerAccount, Quota: l.CommandsPerAccountSecond,
		Window: config.CommandsWindow, Instances: subs.LiveInstances, Metrics: m})
	if err != nil {
		return httpapi.Limits{}, err
	}
	failures, err := limits.NewKeyed(limits.KeyedConfig{Name: limits.TokenFailuresPerIP, Quota: l.TokenFailuresPerIPMinute,
		Window: config.TokenFailuresWindow, Instances: subs.LiveInstances, Metrics: m})
	if err != nil {
		return httpapi.Limits{}, err
	}
	return httpapi.Limits{
		ReserveInvitations: func(ctx context.Context, commandID, propertyID, actorID string, emails []string) (func(context.Context) error, error) {
			res, err := store.ReserveInvitations(ctx, commandID, propertyID, actorID, emails)
			if err != nil {
				return nil, err
			}
			return res.Release, nil
		},
		Commands:      cmds,
		TokenFailures: failures,
	}, nil
}
