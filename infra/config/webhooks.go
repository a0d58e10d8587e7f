package config

import (
	"crypto/hmac"
	"crypto/sha256"
	"time"
)

// Defaults of the webhook deliveries' settings, shown in the flags' help:
// infra/webhooks applies them to a setting left zero.
const (
	DefaultWebhookRetryHorizon = 72 * time.Hour
	DefaultWebhookTimeout      = 10 * time.Second
)

// webhookKeyLabel is the message webhook secrets' key is derived under from
// the invitation key. Changing it changes every endpoint's secret.
const webhookKeyLabel = "roster/webhook-secret-key/v1"

// webhookSettings are the webhook deliveries' variables; settings lists
// them after the others.
var webhookSettings = []setting{
	{env: "ROSTER_WEBHOOK_RETRY_HORIZON", usage: "how long a webhook delivery is retried, as a Go `duration`; an endpoint failing that long is disabled", def: DefaultWebhookRetryHorizon.String(),
		parse: duration(func(c *Config) *time.Duration { return &c.WebhookRetryHorizon })},
	{env: "ROSTER_WEBHOOK_TIMEOUT", usage: "how long one webhook request may take, connecting included, as a Go `duration`", def: DefaultWebhookTimeout.String(),
		parse: duration(func(c *Config) *time.Duration { return &c.WebhookTimeout })},
	{env: "ROSTER_WEBHOOK_ALLOW_HTTP", usage: "`true` takes plain http:// webhook URLs (development only, never with a JWKS)",
		parse: boolean(func(c *Config) *bool { return &c.WebhookAllowHTTP })},
	{env: "ROSTER_WEBHOOK_ALLOW_PRIVATE", usage: "`true` lets webhooks reach private, loopback and link-local addresses (development and tests only, never with a JWKS)",
		parse: boolean(func(c *Config) *bool { return &c.WebhookAllowPrivate })},
}

// validateWebhooks checks the webhook settings. What opens a way into the
// private network is refused where tokens come from a production identity
// provider (a JWKS).
func (c Config) validateWebhooks(add func(env, format string, args ...any)) {
	if _, failed := c.parseErrs["ROSTER_WEBHOOK_RETRY_HORIZON"]; !failed && c.WebhookRetryHorizon != 0 &&
		(c.WebhookRetryHorizon < time.Minute || c.WebhookRetryHorizon > 30*24*time.Hour) {
		add("ROSTER_WEBHOOK_RETRY_HORIZON", "%s is not between 1m and 720h", c.WebhookRetryHorizon)
	}
	if _, failed := c.parseErrs["ROSTER_WEBHOOK_TIMEOUT"]; !failed && c.WebhookTimeout != 0 &&
		(c.WebhookTimeout < 100*time.Millisecond || c.WebhookTimeout > 5*time.Minute) {
		add("ROSTER_WEBHOOK_TIMEOUT", "%s is not between 100ms and 5m", c.WebhookTimeout)
	}
	if c.JWKSURL != "" && c.WebhookAllowHTTP {
		add("ROSTER_WEBHOOK_ALLOW_HTTP", "is for development and is refused beside ROSTER_JWKS_URL")
	}
	if c.JWKSURL != "" && c.WebhookAllowPrivate {
		add("ROSTER_WEBHOOK_ALLOW_PRIVATE", "is for development and tests and is refused beside ROSTER_JWKS_URL")
	}
}

// WebhookKey is the server key webhook endpoints' secrets are derived
// under, from the invitation key (nil when there is none).
func (c Config) WebhookKey() []byte {
	k := c.InvitationKey()
	if k == nil {
		return nil
	}
	m := hmac.New(sha256.New, k)
	m.Write([]byte(webhookKeyLabel))
	return m.Sum(nil)
}
