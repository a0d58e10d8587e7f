package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// oidcProviderBin is the OpenID provider the sign-in test starts as a
// process of its own (infra/dashboard/internal/oidcop: zitadel's example
// provider), built once per test binary.
var oidcProviderBin = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "roster-oidcop-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "oidcop")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/rosterhq/roster/infra/dashboard/internal/oidcop").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("build the OpenID provider: %v\n%s", err, out)
	}
	return bin, nil
})

// oidcUser is a person the provider knows, in its users file's shape.
type oidcUser struct {
	ID                string
	Username          string
	Password          string
	FirstName         string
	LastName          string
	Email             string
	EmailVerified     bool
	PreferredLanguage string
}

// startOIDCProvider runs the provider with one public client, clientID,
// that may send people back to redirectURI, and the given users. It
// returns the issuer and stops the process when the test ends.
func startOIDCProvider(t *testing.T, clientID, redirectURI string, users ...oidcUser) string {
	t.Helper()
	bin, err := oidcProviderBin()
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]oidcUser{}
	for _, u := range users {
		byID[u.ID] = u
	}
	usersFile := filepath.Join(t.TempDir(), "users.json")
	if err := os.WriteFile(usersFile, mustJSON(byID), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-client", clientID, "-redirect-uris", redirectURI, "-users", usersFile)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the OpenID provider: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("the OpenID provider's log:\n%s", tail(stderr.String(), 30))
		}
	})
	first := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		first <- line
	}()
	select {
	case line := <-first:
		issuer, ok := strings.CutPrefix(strings.TrimSpace(line), "issuer ")
		if !ok {
			t.Fatalf("the OpenID provider said %q, want its issuer; log:\n%s", line, stderr.String())
		}
		return issuer
	case <-time.After(30 * time.Second):
		t.Fatalf("the OpenID provider did not start; log:\n%s", stderr.String())
	}
	return ""
}

// TestDashboardSignsInWithOpenIDConnect: without development sign-in, the
// page signs in at a real OpenID provider (a separate process) with the
// authorization code flow and PKCE, and its ID token is the bearer token
// the API accepts, verified against the keys the server discovered; Sign
// out ends the session.
func TestDashboardSignsInWithOpenIDConnect(t *testing.T) {
	browserPass(t)
	b := startBrowser(t)
	pageLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + pageLn.Addr().String()
	ann := oidcUser{ID: "ann-at-the-provider", Username: "ann", Password: "correct horse battery", FirstName: "Ann", LastName: "Lee",
		Email: "ann@example.com", EmailVerified: true, PreferredLanguage: "en"}
	issuer := startOIDCProvider(t, "roster-dashboard", base+"/", ann)
	appLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// No development secret at all: the provider's ID tokens are the only
	// tokens this App takes.
	app := startAppOn(t, appLn, "ROSTER_HTTP_ADDR", pageLn.Addr().String(), "ROSTER_JWT_SECRET", "",
		"ROSTER_INVITE_KEY", "an-invitation-key-of-32-bytes-or-more", "ROSTER_OIDC_ISSUER", issuer, "ROSTER_OIDC_CLIENT_ID", "roster-dashboard")
	proxy := servePage(t, pageLn, app.base)
	var how struct {
		DevLogin bool `json:"dev_login"`
		OIDC     struct {
			Issuer, ClientID string
		} `json:"oidc"`
	}
	app.do(t, http.MethodGet, "/v1/auth/config", "", nil, nil).want(t, http.StatusOK).into(t, &how)
	if how.DevLogin || how.OIDC.Issuer != issuer {
		t.Fatalf("the App offers %+v, want the provider %s and no development sign-in", how, issuer)
	}
	app.do(t, http.MethodPost, "/v1/auth/dev-login", "", map[string]string{"email": "mallory@example.com"}, nil).wantProblem(t, http.StatusNotFound, "dev_login_off")

	ann1 := newPerson(t, b, "ann", artifactDir(t))
	ann1.open(base + "/")
	ann1.waitFor("button", "Sign in")
	if ann1.count("textbox", "Email") != 0 {
		t.Error("the page offers development sign-in with an OpenID provider configured")
	}
	ann1.click("button", "Sign in")
	ann1.waitFor("textbox", "Username:")
	var at string
	ann1.eval(`location.origin + '/'`, &at)
	if at != issuer {
		t.Errorf("Sign in went to %s, want the provider %s", at, issuer)
	}
	ann1.fill("Username:", ann.Username)
	ann1.do("type the password", chromedp.SendKeys(chromedp.ID("password"), ann.Password))
	ann1.do("log in at the provider", chromedp.Click(chromedp.CSS(`button[type="submit"]`)))
	ann1.waitFor("button", "Sign out")
	ann1.viewSays("No properties yet")
	var who string
	ann1.eval(`document.querySelector('.who').textContent`, &who)
	if who != ann.Email {
		t.Errorf("signed in as %q, want %s", who, ann.Email)
	}

	// The ID token works as the bearer token: the page creates a property,
	// and the token names the provider's account.
	ann1.click("button", "New property")
	ann1.fill("Property name", "Ann's shop")
	ann1.click("button", "Create property")
	ann1.until("the property opens", `document.querySelector('.property-name') !== null`)
	var token string
	ann1.eval(`JSON.parse(sessionStorage.getItem('roster.session')).token`, &token)
	var me struct {
		AccountID     string `json:"account_id"`
		Email         string `json:"email"`
		EmailVerified bool   `json:"email_verified"`
	}
	app.do(t, http.MethodGet, "/v1/me", token, nil, nil).want(t, http.StatusOK).into(t, &me)
	if me.AccountID != ann.ID || me.Email != ann.Email || !me.EmailVerified {
		t.Errorf("the ID token is the account %+v, want %s with %s verified", me, ann.ID, ann.Email)
	}
	for _, e := range proxy.recorded() {
		if strings.HasPrefix(e.Path, "/v1/") && e.Status == http.StatusUnauthorized {
			t.Errorf("%s %s was refused the ID token", e.Method, e.Path)
		}
	}

	ann1.click("button", "Sign out")
	ann1.waitFor("button", "Sign in")
	var left string
	ann1.eval(`sessionStorage.getItem('roster.session') || ''`, &left)
	if left != "" {
		t.Error("Sign out left the session in the tab")
	}
	if got := ann1.problems(); len(got) != 0 {
		t.Errorf("the page saw %q", got)
	}
}

// TestDashboardExplainsExpiredAndDeclinedLinks: an invitation link that
// can no longer be used says why once the invitee has signed in.
func TestDashboardExplainsExpiredAndDeclinedLinks(t *testing.T) {
	browserPass(t)
	b := startBrowser(t)
	app, base, _ := dashboardApp(t, "ROSTER_INVITE_TTL", "2s")
	owner := devToken(t, "owner@example.com")
	pid := app.createProperty(t, owner, "Short notice").PropertyID
	late, no := devToken(t, "late@example.com"), devToken(t, "no@example.com")
	sent := app.invite(t, owner, pid, map[string]string{"email": late.Email, "role": "agent"}, map[string]string{"email": no.Email, "role": "agent"})
	pos := app.command(t, http.MethodPost, "/v1/properties/"+pid+"/invitations/"+sent.Invitations[1].ID+"/decline", no.Token, nil, nil, http.StatusOK).Position
	// Wait, bounded, until the first invitation's expiry has passed.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		var expired struct{ Invitations []invitation }
		app.read(t, "/v1/properties/"+pid+"/invitations?status=expired", owner.Token, pos).want(t, http.StatusOK).into(t, &expired)
		if len(expired.Invitations) == 1 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the invitation never expired")
		case <-time.After(200 * time.Millisecond):
		}
	}

	tests := []struct {
		email, says string
	}{
		{late.Email, "This invitation has expired. Ask an admin of the property to send you a new one."},
		{no.Email, "This invitation was declined, so it can no longer be accepted."},
	}
	for _, tt := range tests {
		p := newPerson(t, b, strings.Split(tt.email, "@")[0], artifactDir(t))
		p.open(app.inviteLink(t, tt.email))
		p.viewSays("You have been invited")
		p.signIn(base, tt.email)
		p.viewSays("This invitation cannot be accepted")
		p.viewSays(tt.says)
	}
}
