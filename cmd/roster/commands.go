package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/rosterhq/roster/infra/auth"
	"github.com/rosterhq/roster/infra/config"
	"github.com/rosterhq/roster/infra/emailaddr"
	"github.com/rosterhq/roster/infra/logging"
	"github.com/rosterhq/roster/migrations"
)

// errUsage reports a flag error that the flag package has already printed.
var errUsage = errors.New("usage")

func parseConfig(name string, args []string, getenv func(string) string, stderr io.Writer) (config.Config, error) {
	fs := flag.NewFlagSet("roster "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg, err := config.Parse(fs, args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		return cfg, errUsage
	}
	if err != nil && fs.Parsed() {
		return cfg, fmt.Errorf("configuration:\n%w", err)
	}
	if err != nil {
		return cfg, errUsage
	}
	return cfg, nil
}

func serveCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig("serve", args, getenv, stderr)
	if err != nil {
		return err
	}
	log, err := logging.New(stderr, cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		return err
	}
	if err := tuneRuntime(getenv); err != nil {
		return err
	}
	// Listening first gives the address (a port chosen with ":0" too) that
	// invitation mail links to by default.
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	cfg.HTTPAddr = ln.Addr().String()
	app, err := NewApp(ctx, cfg, log)
	if err != nil {
		_ = ln.Close()
		return err
	}
	defer app.Close()
	fmt.Fprintf(stdout, "roster: serving on http://%s (event store: %s)\n", ln.Addr(), cfg.EventStore)
	fmt.Fprintf(stdout, "roster: the dashboard is at %s\n", cfg.DashboardURL())
	if cfg.DebugAddr != "" {
		stop, err := serveProfiles(cfg.DebugAddr)
		if err != nil {
			return err
		}
		defer stop()
		fmt.Fprintf(stdout, "roster: profiles on http://%s/debug/pprof/\n", cfg.DebugAddr)
	}
	return app.Run(ctx, ln)
}

func migrateCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("roster migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pgURL := fs.String("pg-url", orDefault(getenv("ROSTER_PG_URL"), config.DefaultPGURL), "PostgreSQL URL (env ROSTER_PG_URL)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	pool, err := openPool(ctx, *pgURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	applied, err := migrations.Apply(ctx, pool)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "roster: %d migration(s) applied %v\n", len(applied), applied)
	return nil
}

func tokenCmd(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("roster token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sub := fs.String("sub", "", "account ID (the sub claim); by default the account the dashboard's development sign-in gives the email")
	email := fs.String("email", "", "email address (the email claim); required")
	unverified := fs.Bool("unverified", false, "mark the email as not verified")
	service := fs.String("service", "", "mint a service's client-credentials token for the access-check API instead: client_id NAME, no email")
	scope := fs.String("scope", orDefault(getenv("ROSTER_CHECK_SCOPE"), config.DefaultCheckScope), "scope of a -service token (env ROSTER_CHECK_SCOPE)")
	ttl := fs.Duration("ttl", time.Hour, "how long the token is valid")
	secret := fs.String("jwt-secret", getenv("ROSTER_JWT_SECRET"), "HS256 secret (env ROSTER_JWT_SECRET)")
	issuer := fs.String("jwt-issuer", orDefault(getenv("ROSTER_JWT_ISSUER"), config.DefaultJWTIssuer), "iss claim (env ROSTER_JWT_ISSUER)")
	audience := fs.String("jwt-audience", orDefault(getenv("ROSTER_JWT_AUDIENCE"), config.DefaultJWTAudience), "aud claim (env ROSTER_JWT_AUDIENCE)")
	maxLifetime := fs.String("jwt-max-lifetime", orDefault(getenv("ROSTER_JWT_MAX_LIFETIME"), config.DefaultJWTMaxLifetime.String()),
		"longest lifetime the server accepts (env ROSTER_JWT_MAX_LIFETIME)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	var problems []error
	// A token the server would refuse is no use to anyone: say so now
	// rather than with a 401 later.
	if max, err := time.ParseDuration(strings.TrimSpace(*maxLifetime)); err != nil || max <= 0 {
		problems = append(problems, fmt.Errorf("ROSTER_JWT_MAX_LIFETIME (or -jwt-max-lifetime) %q is not a positive duration", *maxLifetime))
	} else if *ttl > max {
		problems = append(problems, fmt.Errorf("-ttl %s is longer than the %s a token may live (ROSTER_JWT_MAX_LIFETIME): the server would refuse it", *ttl, max))
	}
	if *service != "" {
		return serviceToken(stdout, problems, *secret, *issuer, *audience, *service, *scope, *email, *ttl)
	}
	if *sub == "" && *email != "" {
		// The same account the page's development sign-in gives, so a
		// property made with this token shows when signing in there.
		normal, err := emailaddr.Normalize(*email)
		if err != nil {
			problems = append(problems, err)
		}
		*sub = auth.DevAccountID(normal)
	}
	if *email == "" {
		problems = append(problems, errors.New("-email is required"))
	}
	if *secret == "" {
		problems = append(problems, errors.New("ROSTER_JWT_SECRET (or -jwt-secret) is required"))
	}
	if *ttl <= 0 {
		problems = append(problems, fmt.Errorf("-ttl %s must be positive", *ttl))
	}
	if err := errors.Join(problems...); err != nil {
		return err
	}
	tok, err := auth.Mint([]byte(*secret), *issuer, *audience, *sub, *email, !*unverified, *ttl, time.Now())
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, tok)
	return err
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// serveProfiles serves Go's profiles on addr, apart from the API, so memory
// and CPU can be measured on a running server (the bounds of docs/PERFORMANCE.md).
func serveProfiles(addr string) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s for profiles: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return func() { _ = srv.Close() }, nil
}
