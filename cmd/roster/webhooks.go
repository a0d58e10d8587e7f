package main

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/commands"
	"github.com/rosterhq/roster/infra/config"
	"github.com/rosterhq/roster/infra/webhooks"
)

// newWebhooks is a process's webhook deliveries: the consumer of the feed
// that queues them and the dispatcher that sends them (on every instance:
// each delivery is claimed before it is sent). An endpoint that fails for
// the retry horizon is disabled by an event of its property.
func newWebhooks(cfg config.Config, pool *pgxpool.Pool, h commands.Handlers, log zerolog.Logger) (*webhooks.Webhooks, error) {
	return webhooks.New(webhooks.Config{
		Pool: pool, Secrets: webhooks.NewSecrets(cfg.WebhookKey()),
		RetryHorizon: cfg.WebhookRetryHorizon, Timeout: cfg.WebhookTimeout,
		AllowHTTP: cfg.WebhookAllowHTTP, AllowPrivate: cfg.WebhookAllowPrivate,
		Disable: func(propertyID, endpointID string) error {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, err := h.DisableFailingWebhook.Handle(ctx, "webhooks-"+uuid.NewString(), propertyID, endpointID)
			return err
		},
		Log: log.With().Str("component", "webhooks").Logger(),
	})
}
