package config

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCheckSettings(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    Config
		wantErr string
	}{
		{"unset allows no service and leaves the index to its defaults", nil, Config{}, ""},
		{"services, scope, staleness and size are read", map[string]string{"ROSTER_CHECK_SERVICES": " chat-router, tickets ",
			"ROSTER_CHECK_SCOPE": "checks.read", "ROSTER_CHECK_MAX_STALENESS": "250ms", "ROSTER_CHECK_INDEX_SIZE": "5000"},
			Config{CheckServices: []string{"chat-router", "tickets"}, CheckScope: "checks.read", CheckMaxStaleness: 250 * time.Millisecond, CheckIndexSize: 5000}, ""},
		{"an empty service entry is refused", map[string]string{"ROSTER_CHECK_SERVICES": "a,,b"}, Config{}, "ROSTER_CHECK_SERVICES: entry 2 is empty"},
		{"a size that is no number is refused", map[string]string{"ROSTER_CHECK_INDEX_SIZE": "big"}, Config{}, `ROSTER_CHECK_INDEX_SIZE: "big" is not a whole number`},
		{"a staleness that is no duration is refused", map[string]string{"ROSTER_CHECK_MAX_STALENESS": "soon"}, Config{}, "ROSTER_CHECK_MAX_STALENESS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars := map[string]string{"ROSTER_JWT_SECRET": devSecret}
			for k, v := range tt.env {
				vars[k] = v
			}
			c, err := Load(env(vars))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			got := Config{CheckServices: c.CheckServices, CheckScope: c.CheckScope, CheckMaxStaleness: c.CheckMaxStaleness, CheckIndexSize: c.CheckIndexSize}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(Config{})); diff != "" {
				t.Errorf("check settings (-want +got):\n%s", diff)
			}
		})
	}
}
