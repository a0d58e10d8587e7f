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
	"time"

	"github.com/rosterhq/roster/infra/auth"
	"github.com/rosterhq/roster/infra/config"
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
	app, err := NewApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer app.Close()
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	fmt.Fprintf(stdout, "roster: serving on http://%s (event store: %s)\n", ln.Addr(), cfg.EventStore)
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
	sub := fs.String("sub", "", "account ID (the sub claim); required")
	email := fs.String("email", "", "email address (the email claim); required")
	unverified := fs.Bool("unverified", false, "mark the email as not verified")
	ttl := fs.Duration("ttl", time.Hour, "how long the token is valid")
	secret := fs.String("jwt-secret", getenv("ROSTER_JWT_SECRET"), "HS256 secret (env ROSTER_JWT_SECRET)")
	issuer := fs.String("jwt-issuer", orDefault(getenv("ROSTER_JWT_ISSUER"), config.DefaultJWTIssuer), "iss claim (env ROSTER_JWT_ISSUER)")
	audience := fs.String("jwt-audience", orDefault(getenv("ROSTER_JWT_AUDIENCE"), config.DefaultJWTAudience), "aud claim (env ROSTER_JWT_AUDIENCE)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	var problems []error
	if *sub == "" {
		problems = append(problems, errors.New("-sub is required"))
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
// and CPU can be measured on a running server (issue 6's bounds).
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
