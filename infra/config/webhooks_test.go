package config

import (
	"strings"
	"testing"
	"time"
)

func TestWebhookSettingsAreRead(t *testing.T) {
	c, err := Load(env(map[string]string{"ROSTER_JWT_SECRET": devSecret, "ROSTER_WEBHOOK_RETRY_HORIZON": "2h",
		"ROSTER_WEBHOOK_TIMEOUT": "3s", "ROSTER_WEBHOOK_ALLOW_HTTP": "true", "ROSTER_WEBHOOK_ALLOW_PRIVATE": "1"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.WebhookRetryHorizon != 2*time.Hour || c.WebhookTimeout != 3*time.Second || !c.WebhookAllowHTTP || !c.WebhookAllowPrivate {
		t.Errorf("webhook settings = %v %v %v %v", c.WebhookRetryHorizon, c.WebhookTimeout, c.WebhookAllowHTTP, c.WebhookAllowPrivate)
	}
	if len(c.WebhookKey()) != 32 || string(c.WebhookKey()) == string(c.InvitationKey()) {
		t.Error("the webhook key is not a key of its own derived from the invitation key")
	}
}

func TestWebhookSettingsAreRefused(t *testing.T) {
	jwks := map[string]string{"ROSTER_JWKS_URL": "https://id.example.com/jwks", "ROSTER_INVITE_KEY": devSecret}
	with := func(base map[string]string, k, v string) map[string]string {
		m := map[string]string{k: v}
		for bk, bv := range base {
			m[bk] = bv
		}
		return m
	}
	dev := map[string]string{"ROSTER_JWT_SECRET": devSecret}
	for _, tt := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"a horizon under a minute", with(dev, "ROSTER_WEBHOOK_RETRY_HORIZON", "30s"), "ROSTER_WEBHOOK_RETRY_HORIZON: 30s is not between 1m and 720h"},
		{"a horizon over 30 days", with(dev, "ROSTER_WEBHOOK_RETRY_HORIZON", "1000h"), "ROSTER_WEBHOOK_RETRY_HORIZON: 1000h0m0s is not between"},
		{"a horizon that is no duration", with(dev, "ROSTER_WEBHOOK_RETRY_HORIZON", "3 days"), `ROSTER_WEBHOOK_RETRY_HORIZON: time: unknown unit`},
		{"a timeout too short", with(dev, "ROSTER_WEBHOOK_TIMEOUT", "10ms"), "ROSTER_WEBHOOK_TIMEOUT: 10ms is not between 100ms and 5m"},
		{"a timeout too long", with(dev, "ROSTER_WEBHOOK_TIMEOUT", "1h"), "ROSTER_WEBHOOK_TIMEOUT: 1h0m0s is not between"},
		{"allow-http that is no boolean", with(dev, "ROSTER_WEBHOOK_ALLOW_HTTP", "yes please"), `ROSTER_WEBHOOK_ALLOW_HTTP: "yes please" is not true or false`},
		{"plain http in production", with(jwks, "ROSTER_WEBHOOK_ALLOW_HTTP", "true"), "ROSTER_WEBHOOK_ALLOW_HTTP: is for development"},
		{"private addresses in production", with(jwks, "ROSTER_WEBHOOK_ALLOW_PRIVATE", "true"), "ROSTER_WEBHOOK_ALLOW_PRIVATE: is for development"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(env(tt.env))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load = %v, want an error saying %q", err, tt.want)
			}
		})
	}
}
