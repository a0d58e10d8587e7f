// Command oidcop is the OpenID provider the dashboard's browser tests sign
// in at: zitadel's example provider (github.com/zitadel/oidc/v3, its OP,
// in-memory storage and login page) with a public PKCE client whose
// redirect URIs and users the test chooses. It is a test fixture: its keys
// and sessions live in memory and vanish with it.
//
// It listens on -addr and prints "issuer URL" on its first line of
// standard output once it serves, so a test can start it on port 0.
//
// One change to the example: its ID tokens carry the email claims even
// next to an access token. OpenID Connect lets a provider leave them to
// the userinfo endpoint then, which the example does; providers that
// dashboards sign in with (and Roster, which reads them from the bearer
// ID token) put them in the ID token.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/op"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "where to listen")
	client := flag.String("client", "roster-dashboard", "the public (PKCE) client's ID")
	redirects := flag.String("redirect-uris", "", "comma-separated redirect URIs of the client; required")
	users := flag.String("users", "", "JSON file of the users, as the example's USERS_FILE; required")
	flag.Parse()
	if err := run(*addr, *client, *redirects, *users); err != nil {
		fmt.Fprintln(os.Stderr, "oidcop:", err)
		os.Exit(1)
	}
}

func run(addr, client, redirects, users string) error {
	if redirects == "" || users == "" {
		return fmt.Errorf("-redirect-uris and -users are required")
	}
	userStore, err := storage.StoreFromFile(users)
	if err != nil {
		return fmt.Errorf("read the users: %w", err)
	}
	storage.RegisterClients(storage.NativeClient(client, strings.Split(redirects, ",")...))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	issuer := fmt.Sprintf("http://%s/", ln.Addr())
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	router := exampleop.SetupServer(issuer, claimsInIDTokens{storage.NewStorage(userStore)}, log, false)
	srv := &http.Server{Handler: router, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	fmt.Printf("issuer %s\n", issuer)
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		return err
	}
	return nil
}

// claimsInIDTokens is the example's storage, with clients that assert the
// userinfo claims (email, email_verified) in their ID tokens.
type claimsInIDTokens struct{ *storage.Storage }

func (s claimsInIDTokens) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil {
		return nil, err
	}
	return assertingClient{c}, nil
}

type assertingClient struct{ op.Client }

func (assertingClient) IDTokenUserinfoClaimsAssertion() bool { return true }
