package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestTokenCommandRefusesALifetimeTheServerWouldRefuse: `roster token`
// mints no token the server's ROSTER_JWT_MAX_LIFETIME would turn away.
func TestTokenCommandRefusesALifetimeTheServerWouldRefuse(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		wantCode int
		wantErr  string
	}{
		{name: "a ttl within the default maximum mints", args: []string{"-ttl", "24h"}, wantCode: 0},
		{name: "a ttl beyond the default maximum is refused", args: []string{"-ttl", "25h"}, wantCode: 1, wantErr: "ROSTER_JWT_MAX_LIFETIME"},
		{name: "a ttl beyond a configured maximum is refused", env: map[string]string{"ROSTER_JWT_MAX_LIFETIME": "30m"}, args: []string{"-ttl", "1h"}, wantCode: 1, wantErr: "-ttl 1h0m0s is longer than the 30m0s"},
		{name: "a configured maximum lets a longer ttl through", env: map[string]string{"ROSTER_JWT_MAX_LIFETIME": "72h"}, args: []string{"-ttl", "48h"}, wantCode: 0},
		{name: "a maximum that is no duration is refused", env: map[string]string{"ROSTER_JWT_MAX_LIFETIME": "a day"}, wantCode: 1, wantErr: `"a day" is not a positive duration`},
		{name: "a sub holding a control character is refused", args: []string{"-sub", "a\x00b"}, wantCode: 1, wantErr: "sub holds control character U+0000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"ROSTER_JWT_SECRET": testSecret}
			for k, v := range tt.env {
				env[k] = v
			}
			args := append([]string{"token", "-sub", "acc-1", "-email", "a@example.com"}, tt.args...)
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), args, func(k string) string { return env[k] }, &stdout, &stderr)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tt.wantCode, stderr.String())
			}
			if tt.wantCode == 0 {
				if strings.Count(stdout.String(), ".") != 2 {
					t.Errorf("stdout %q is not one token", stdout.String())
				}
				return
			}
			if !strings.Contains(stderr.String(), tt.wantErr) || stdout.Len() != 0 {
				t.Errorf("stderr %q (stdout %q), want it to say %q and nothing on stdout", stderr.String(), stdout.String(), tt.wantErr)
			}
		})
	}
}
