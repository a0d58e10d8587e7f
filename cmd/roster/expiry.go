package main

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/commands"
	"github.com/rosterhq/roster/infra/config"
	"github.com/rosterhq/roster/infra/expiry"
)

// newExpiry is the scheduler that ends accesses on their date and reminds
// members before, through the command path; it runs on the instance that
// leads its consumer (section 12 of docs/ARCHITECTURE.md).
func newExpiry(cfg config.Config, pool *pgxpool.Pool, h commands.Handlers, log zerolog.Logger) (*expiry.Scheduler, error) {
	return expiry.New(expiry.Config{Pool: pool, Poll: cfg.ExpiryPoll,
		Decide: expiry.DeciderFunc(func(ctx context.Context, correlationID, propertyID, accountID string) error {
			ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			_, err := h.ExpireAccess.Handle(ctx, correlationID, propertyID, accountID)
			return err
		}),
		Log: log.With().Str("component", "expiry").Logger()})
}
