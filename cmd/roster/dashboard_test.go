package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/google/go-cmp/cmp"

	"github.com/rosterhq/roster/infra/auth"
	"github.com/rosterhq/roster/infra/config"
)

// browserStore is the pass of the suite the browser tests run on: the page
// is the same whatever holds the events, and one pass keeps make test short.
func browserPass(t *testing.T) {
	t.Helper()
	if stores := e2eStores(); e2eStore != stores[0] {
		t.Skipf("the browser tests run once, on the %s pass; the page does not depend on the event store", stores[0])
	}
}

// dashboardApp starts the App with development sign-in behind the
// validating proxy the browser talks to. The App is told the proxy's
// address, so invitation mail links to the page the browser opens.
func dashboardApp(t *testing.T, extra ...string) (*testApp, string, *pageProxy) {
	t.Helper()
	pageLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	appLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app := startAppOn(t, appLn, append([]string{"ROSTER_HTTP_ADDR", pageLn.Addr().String(), "ROSTER_DEV_LOGIN", "true"}, extra...)...)
	return app, "http://" + pageLn.Addr().String(), servePage(t, pageLn, app.base)
}

// screenshots is where the story's pictures of the main screens go:
// docs/img with ROSTER_UPDATE_SCREENSHOTS=1 (the README shows them), else
// the test's artifact directory.
func screenshots(t *testing.T, artifacts string) string {
	t.Helper()
	if os.Getenv("ROSTER_UPDATE_SCREENSHOTS") != "1" {
		return artifacts
	}
	dir := filepath.Join("..", "..", "docs", "img")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// devToken is the token the page gets for email, for setting up data
// through the API.
func devToken(t *testing.T, email string) user {
	t.Helper()
	tok, err := auth.MintDev([]byte(testSecret), config.DefaultJWTIssuer, config.DefaultJWTAudience, email, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return user{ID: tok.AccountID, Email: email, Token: tok.Token}
}

// inviteLink is the accept link of the latest invitation mail to email.
func (a *testApp) inviteLink(t *testing.T, email string) string {
	t.Helper()
	a.mailSettled(t)
	link := ""
	for _, line := range strings.Split(a.logs.String(), "\n") {
		var entry struct {
			To         string `json:"to"`
			AcceptLink string `json:"accept_link"`
		}
		if json.Unmarshal([]byte(line), &entry) == nil && entry.To == email && entry.AcceptLink != "" {
			link = entry.AcceptLink
		}
	}
	if link == "" {
		t.Fatalf("no invitation mail with a link to %s in the log", email)
	}
	return link
}

func (p *person) signIn(base, email string) {
	p.t.Helper()
	p.waitFor("button", "Sign in")
	p.fill("Email", email)
	p.click("button", "Sign in")
	p.waitFor("button", "Sign out")
}

func (p *person) statusSays(text string) {
	p.t.Helper()
	p.until(fmt.Sprintf("the page says %q", text), fmt.Sprintf(`document.getElementById('status').textContent.includes(%q)`, text))
}

func (p *person) viewSays(text string) {
	p.t.Helper()
	p.until(fmt.Sprintf("the page shows %q", text), fmt.Sprintf(`document.getElementById('view').innerText.includes(%q)`, text))
}

// rowEmails are the first cells (emails) of rows, without the badges.
func rowEmails(rows [][]string) []string {
	var out []string
	for _, r := range rows {
		for _, c := range r {
			if strings.Contains(c, "@") {
				out = append(out, strings.Fields(c)[0])
				break
			}
		}
	}
	return out
}

// TestDashboardSeedStory walks the story of the seed in a real browser,
// with two people in two browser contexts: the owner creates a property
// (named with markup, shown as text) and invites an admin, an agent and two
// helpers in one dialog, where a bad row is marked and nothing is sent; the
// agent's bell shows the invitation and the agent accepts, sees the members
// and has no control; the owner resends, deletes a selection of pending
// invitations, makes the agent an admin, disables them (they lose the
// property) and enables them again, and cannot change their own row; the
// mail's link asks to sign in and accepts, and a used or deleted link says
// so; the audit trail, its export and the access review download; long
// lists page; the page works at 375 px; every exchange matches the OpenAPI
// document and every read after a change carries its position.
func TestDashboardSeedStory(t *testing.T) {
	browserPass(t)
	began := time.Now()
	b := startBrowser(t)
	app, base, proxy := dashboardApp(t)
	artifacts := artifactDir(t)
	shots := screenshots(t, artifacts)
	owner := newPerson(t, b, "owner", artifacts)
	agent := newPerson(t, b, "agent", artifacts)
	const name = `Acme <img src=x onerror=alert(1)> & "Co"`

	// The owner signs in and creates a property whose name holds markup.
	owner.open(base + "/")
	owner.waitFor("textbox", "Email")
	owner.screenshot(filepath.Join(shots, "sign-in.png"))
	owner.signIn(base, "owner@example.com")
	owner.viewSays("No properties yet")
	owner.click("button", "New property")
	owner.waitFor("dialog", "New property")
	owner.fill("Property name", name)
	owner.click("button", "Create property")
	owner.until("the property opens", `document.querySelector('.property-name') !== null`)
	var shown struct {
		Heading, Title, Option string
		Images                 int
	}
	owner.eval(`({heading: document.querySelector('.property-name').textContent, title: document.title,
		option: document.querySelector('#switcher select').selectedOptions[0].textContent,
		images: document.querySelectorAll('#view img, #switcher img').length})`, &shown)
	if shown.Heading != name || !strings.HasPrefix(shown.Title, name) || shown.Option != name+" (Owner)" || shown.Images != 0 {
		t.Errorf("a name with markup shows as %+v, want the text %q and no image", shown, name)
	}
	var pid string
	owner.eval(`new URLSearchParams(location.search).get('property')`, &pid)
	ownerAPI := devToken(t, "owner@example.com")

	// The Invite Member dialog keeps focus inside and closes on Escape.
	owner.click("button", "Invite Member")
	owner.waitFor("dialog", "Invite Member")
	for i := 0; i < 8; i++ {
		owner.key("press Tab", kb.Tab)
		var inside bool
		owner.eval(`document.activeElement.closest('dialog[open]') !== null`, &inside)
		if !inside {
			t.Fatalf("Tab %d took focus out of the dialog", i+1)
		}
	}
	owner.key("press Escape", kb.Escape)
	owner.until("the dialog closes and focus is back on its button",
		`document.querySelector('dialog') === null && document.activeElement.textContent === 'Invite Member'`)
	owner.key("press Enter on Invite Member", kb.Enter)
	owner.waitFor("dialog", "Invite Member")

	// One dialog, four rows; a bad one is marked and nothing is sent.
	owner.fillNth("Email", 0, "admin@example.com")
	owner.chooseNth("Role", 0, "Admin")
	for i, email := range []string{"agent@example.com", "helper1@@example", "helper2@example.com"} {
		owner.click("button", "+ Add Another")
		owner.fillNth("Email", i+1, email)
	}
	owner.click("button", "Send Invitation")
	owner.until("the bad row is marked", `document.querySelectorAll('dialog .row-error:not([hidden])').length === 1`)
	var marked struct{ Row, Says, Form string }
	owner.eval(`(() => { const rows = Array.from(document.querySelectorAll('dialog .invite-row'));
		const i = rows.findIndex((r) => !r.querySelector('.row-error').hidden);
		return {row: String(i), says: rows[i].querySelector('.row-error').textContent, form: document.querySelector('dialog .form-error').textContent}; })()`, &marked)
	if marked.Row != "2" || !strings.Contains(marked.Says, "helper1@@example") || !strings.Contains(marked.Form, "Nothing was sent") {
		t.Errorf("the refused invite marks %+v, want row 2 (the third) naming helper1@@example and nothing sent", marked)
	}
	owner.screenshot(filepath.Join(shots, "invite-member.png"))
	var none struct{ Invitations []invitation }
	app.do(t, http.MethodGet, "/v1/properties/"+pid+"/invitations", ownerAPI.Token, nil, nil).want(t, http.StatusOK).into(t, &none)
	if len(none.Invitations) != 0 {
		t.Fatalf("a refused invite sent %d invitations", len(none.Invitations))
	}
	owner.fillNth("Email", 2, "helper1@example.com")
	owner.click("button", "Send Invitation")
	owner.until("the dialog closes", `document.querySelector('dialog') === null`)
	owner.statusSays("4 invitations sent")
	if got, want := rowEmails(owner.rows("pending")), []string{"helper2@example.com", "helper1@example.com", "agent@example.com", "admin@example.com"}; !sameSet(got, want) {
		t.Errorf("Pending lists %v, want %v", got, want)
	}
	owner.viewSays("owner@example.com") // invited by
	owner.screenshot(filepath.Join(shots, "pending.png"))

	// The agent's bell shows the invitation; the agent accepts it there.
	agent.open(base + "/")
	agent.signIn(base, "agent@example.com")
	agent.until("the bell counts the invitation", `document.querySelector('.bell-badge').textContent === '1'`)
	agent.click("button", "Notifications")
	agent.waitFor("button", "Accept invitation to "+name)
	agent.waitFor("button", "Decline invitation to "+name)
	agent.screenshot(filepath.Join(shots, "notifications.png"))
	agent.click("button", "Accept invitation to "+name)
	agent.statusSays("You joined " + name + " as Agent")
	if got := rowEmails(agent.rows("members")); !sameSet(got, []string{"agent@example.com", "owner@example.com"}) {
		t.Errorf("the agent sees members %v", got)
	}
	// They can see, not change: no control on any row, and no invite.
	var controls int
	agent.eval(`document.querySelectorAll('#tab-panel table button, #tab-panel table select, #tab-panel table input').length`, &controls)
	if controls != 0 || agent.count("button", "Invite Member") != 0 {
		t.Errorf("the agent has %d controls in the members list, %d Invite Member buttons; want none", controls, agent.count("button", "Invite Member"))
	}
	agent.screenshot(filepath.Join(shots, "members-agent.png"))
	agent.click("tab", "Pending")
	if rows := agent.rows("pending"); len(rows) != 3 || agent.count("checkbox", "admin@example.com") != 0 ||
		agent.count("button", "Delete Selection") != 0 || agent.count("button", "Resend admin@example.com") != 0 {
		t.Errorf("the agent's Pending tab has %d rows and controls %d/%d/%d; want 3 rows and none",
			len(rows), agent.count("checkbox", "admin@example.com"), agent.count("button", "Delete Selection"), agent.count("button", "Resend admin@example.com"))
	}

	// The owner resends one and deletes a selection, after a confirmation.
	owner.click("tab", "Members")
	owner.click("tab", "Pending")
	if got := rowEmails(owner.rows("pending")); !sameSet(got, []string{"helper2@example.com", "helper1@example.com", "admin@example.com"}) {
		t.Errorf("after the agent joined, Pending lists %v", got)
	}
	oldHelper1 := app.inviteToken(t, "helper1@example.com")
	owner.click("button", "Resend helper1@example.com")
	owner.statusSays("sent again")
	owner.rows("pending")
	owner.click("checkbox", "helper1@example.com")
	owner.click("checkbox", "helper2@example.com")
	owner.click("button", "Delete Selection")
	owner.waitFor("dialog", "Delete 2 invitations?")
	owner.click("button", "Cancel")
	if got := rowEmails(owner.rows("pending")); len(got) != 3 {
		t.Errorf("cancelling the confirmation still changed Pending: %v", got)
	}
	owner.click("button", "Delete Selection")
	owner.click("button", "Delete invitations")
	owner.statusSays("2 invitations were deleted")
	if got := rowEmails(owner.rows("pending")); !cmp.Equal(got, []string{"admin@example.com"}) {
		t.Errorf("after deleting the selection, Pending lists %v", got)
	}

	// Members: the owner's row offers nothing; the agent becomes an admin,
	// is disabled (and loses the property), and is enabled again.
	owner.click("tab", "Members")
	owner.waitFor("combobox", "Role of agent@example.com")
	for _, c := range []string{"Role of owner@example.com", "Disable owner@example.com", "Remove owner@example.com"} {
		if n := owner.count("combobox", c) + owner.count("button", c); n != 0 {
			t.Errorf("the owner's row offers %q", c)
		}
	}
	owner.viewSays("The owner cannot be changed")
	owner.screenshot(filepath.Join(shots, "members.png"))
	owner.choose("Role of agent@example.com", "Admin")
	owner.statusSays("agent@example.com is now Admin")
	owner.rows("members")
	owner.click("button", "Disable agent@example.com")
	owner.waitFor("dialog", "Disable agent@example.com?")
	owner.click("button", "Disable access")
	owner.statusSays("agent@example.com is disabled")
	owner.rows("members")
	owner.waitFor("button", "Enable agent@example.com")

	agent.open(base + "/?property=" + pid)
	agent.viewSays("Your access to " + name + " is disabled")
	var option struct{ Disabled bool }
	agent.eval(`({disabled: Array.from(document.querySelectorAll('#switcher option')).find((o) => o.value === `+fmt.Sprintf("%q", pid)+`).disabled})`, &option)
	if !option.Disabled {
		t.Error("the disabled agent can still pick the property in the switcher")
	}

	owner.click("button", "Enable agent@example.com")
	owner.statusSays("agent@example.com is enabled again")
	owner.rows("members")
	agent.open(base + "/?property=" + pid)
	agent.until("the property is back", `document.querySelector('.property-name') !== null`)
	agent.waitFor("button", "Invite Member") // an admin now
	agent.click("button", "Notifications")
	var notes []string
	agent.until("the bell lists what happened", `document.querySelectorAll('.bell-panel li').length >= 3`)
	agent.eval(`Array.from(document.querySelectorAll('.bell-panel li p:first-child')).map((p) => p.textContent)`, &notes)
	for _, want := range []string{"changed from Agent to Admin", "was disabled", "enabled again"} {
		if !strings.Contains(strings.Join(notes, "\n"), want) {
			t.Errorf("the agent's notifications %q lack %q", notes, want)
		}
	}
	agent.key("close the bell", kb.Escape)

	// The mail's link: sign in first, then it accepts and opens the property.
	agent.click("button", "Sign out")
	agent.waitFor("button", "Sign in")
	link := app.inviteLink(t, "admin@example.com")
	if !strings.HasPrefix(link, base+"/accept?token=") {
		t.Fatalf("the invitation mail links to %s, want the page's accept page under %s", link, base)
	}
	agent.open(link)
	agent.viewSays("You have been invited")
	var address string
	agent.eval(`location.href`, &address)
	if strings.Contains(address, "token") {
		t.Errorf("the accept page keeps the token in the address bar: %s", address)
	}
	agent.screenshot(filepath.Join(shots, "accept.png"))
	agent.signIn(base, "admin@example.com")
	agent.statusSays("You joined " + name + " as Admin")
	agent.until("the property opens", `document.querySelector('.property-name') !== null`)
	agent.open(link)
	agent.viewSays("This invitation has already been used")
	agent.click("button", "Sign out")
	agent.open(base + "/accept?token=" + url.QueryEscape(oldHelper1))
	agent.signIn(base, "helper1@example.com")
	agent.viewSays("This invitation link is not valid") // resent: the old link stopped working
	agent.open(app.inviteLink(t, "helper1@example.com"))
	agent.viewSays("deleted by an admin")

	// Remove, after a confirmation. The owner's list is read again by
	// choosing its tab: the admin joined in another browser.
	owner.click("tab", "Members")
	owner.rows("members")
	owner.click("button", "Remove admin@example.com")
	owner.waitFor("dialog", "Remove admin@example.com?")
	owner.click("button", "Remove member")
	owner.statusSays("admin@example.com was removed")
	if got := rowEmails(owner.rows("members")); !sameSet(got, []string{"agent@example.com", "owner@example.com"}) {
		t.Errorf("after the removal, Members lists %v", got)
	}

	// Audit: newest first, filtered, exported, and the access review.
	owner.click("tab", "Audit")
	rows := owner.rows("audit")
	if len(rows) < 10 || rows[0][1] != "Removed" || rows[len(rows)-1][1] != "Property created" {
		t.Errorf("the audit trail is not newest first: first %v, last %v of %d", rows[0], rows[len(rows)-1], len(rows))
	}
	owner.choose("Event", "Invited")
	owner.click("button", "Filter")
	owner.until("the filter applies", `Array.from(document.querySelectorAll('#tab-panel tbody tr')).every((tr) => tr.cells[1] && tr.cells[1].innerText === 'Invited')`)
	if got := len(owner.rows("audit")); got != 4 {
		t.Errorf("filtered by Invited, the trail has %d rows, want 4", got)
	}
	owner.screenshot(filepath.Join(shots, "audit.png"))
	owner.click("link", "Export CSV")
	file, csv := owner.download("audit-")
	if lines := strings.Split(strings.TrimSpace(string(csv)), "\n"); len(lines) != 5 || !strings.Contains(lines[0], "type") {
		t.Errorf("the export %s has %d lines, want a header and the 4 filtered entries:\n%s", file, len(lines), csv)
	}
	owner.click("link", "Download access review")
	file, review := owner.download("access-review-")
	if !strings.Contains(string(review), "agent@example.com") || strings.Contains(string(review), "admin@example.com,") {
		t.Errorf("the access review %s does not list who has access:\n%s", file, review)
	}

	// A long list pages with the API's cursors.
	big := app.createProperty(t, ownerAPI, "Big team").PropertyID
	var team []user
	for i := 0; i < 26; i++ {
		team = append(team, devToken(t, fmt.Sprintf("member%02d@example.com", i)))
	}
	// The page reads with the positions of its own changes; these came
	// from another client, so the test waits until the read side has them.
	app.read(t, "/v1/properties/"+big+"/members", ownerAPI.Token, app.join(t, ownerAPI, big, "agent", team...))
	owner.open(base + "/?property=" + big)
	if got := len(owner.rows("members")); got != 25 {
		t.Errorf("the first page has %d members, want 25", got)
	}
	owner.click("button", "Load more members")
	owner.until("the next page is added", `document.querySelectorAll('#tab-panel tbody tr').length === 27`)
	if owner.count("button", "Load more members") != 0 {
		t.Error("Load more members is still offered after the last page")
	}

	// 375 px wide: nothing to scroll sideways.
	owner.open(base + "/?property=" + pid)
	owner.do("make the window 375 px wide", chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile))
	owner.rows("members")
	var width struct{ Scroll, Client int }
	owner.eval(`({scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth})`, &width)
	if width.Scroll > width.Client {
		t.Errorf("at 375 px the page is %d px wide, wider than the %d px window", width.Scroll, width.Client)
	}
	owner.screenshot(filepath.Join(shots, "mobile.png"))

	for _, p := range []*person{owner, agent} {
		if got := p.problems(); len(got) != 0 {
			t.Errorf("%s's page saw %q", p.name, got)
		}
	}
	checkReadsFollowCommands(t, proxy.recorded())
	t.Logf("the browser story took %s", time.Since(began).Round(100*time.Millisecond))
}

// checkReadsFollowCommands: after each command the page made, its next
// read of the lists carried the command's position, or a later one, in
// Roster-Min-Position.
func checkReadsFollowCommands(t *testing.T, ex []exchange) {
	t.Helper()
	commands, stale := 0, 0
	defer func() {
		if stale > 0 {
			t.Logf("%d reads were answered stale (the read models lagged past the server's wait) and asked again", stale)
		}
	}()
	for i, e := range ex {
		if e.Stale {
			stale++
		}
		if e.Method == http.MethodGet || !strings.HasPrefix(e.Path, "/v1/properties") || e.Status >= 300 || e.Position == "" {
			continue
		}
		commands++
		for _, next := range ex[i+1:] {
			if next.Token != e.Token || next.Method != http.MethodGet || !strings.HasPrefix(next.Path, "/v1/properties/") {
				continue
			}
			if next.MinPosition == "" || !atOrAfter(next.MinPosition, e.Position) {
				t.Errorf("%s %s answered position %s, but the read after it, GET %s, sent Roster-Min-Position %q",
					e.Method, e.Path, e.Position, next.Path, next.MinPosition)
			}
			break
		}
	}
	if commands < 8 {
		t.Errorf("the proxy saw %d commands of the page, want the story's (at least 8)", commands)
	}
}

func atOrAfter(a, b string) bool {
	var ac, ap, bc, bp uint64
	if _, err := fmt.Sscanf(a, "%d.%d", &ac, &ap); err != nil {
		return false
	}
	if _, err := fmt.Sscanf(b, "%d.%d", &bc, &bp); err != nil {
		return false
	}
	return ac > bc || (ac == bc && ap >= bp)
}

func sameSet(got, want []string) bool {
	a, b := append([]string(nil), got...), append([]string(nil), want...)
	return cmp.Equal(sortStrings(a), sortStrings(b))
}

func sortStrings(s []string) []string {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}
