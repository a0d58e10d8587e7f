package main

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster/infra/eventstore"
)

// mailSettled waits until the mail consumer has handled every event of the
// feed and the mails it recorded are sent: mail is recorded after the
// command, by the consumer, and sent after that, by the dispatcher. The
// minute is a guard against a hang, not a measure of speed.
func (a *testApp) mailSettled(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var head eventstore.Position
	for {
		batch, err := a.app.store.ReadAll(ctx, head, eventstore.DefaultBatchSize)
		if err != nil {
			t.Fatalf("read the feed: %v", err)
		}
		if len(batch) == 0 {
			break
		}
		head = batch[len(batch)-1].Position
	}
	// The PostgreSQL feed holds an event back while an older transaction
	// anywhere on the server is open, so the last command's position may
	// lie beyond what was read.
	a.mu.Lock()
	if head.Less(a.lastPos) {
		head = a.lastPos
	}
	a.mu.Unlock()
	for {
		var commit, prepare int64
		err := a.app.pool.QueryRow(ctx, `SELECT commit_position, prepare_position FROM consumer_checkpoints WHERE name = 'mail'`).
			Scan(&commit, &prepare)
		if err == nil && !(eventstore.Position{Commit: uint64(commit), Prepare: uint64(prepare)}).Less(head) {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the mail consumer did not reach %s (last error: %v)", head, err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	for {
		// A mail waiting for its backoff is not waited for.
		var open int
		err := a.app.pool.QueryRow(ctx, `SELECT count(*) FROM mail_ledger
			WHERE status = 'sending' OR (status = 'pending' AND coalesce(next_attempt_at <= now(), true))`).Scan(&open)
		if err == nil && open == 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%d mails recorded and not sent (last error: %v)", open, err)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// TestInvitationMailIsSentOncePerEventThroughTheLedger: the invite and the
// resend each log one mail, the resend's token is the one that accepts, and
// `roster mail status` counts both as sent.
func TestInvitationMailIsSentOncePerEventThroughTheLedger(t *testing.T) {
	a := startApp(t)
	owner, ann := a.user(t, "owner"), a.user(t, "ann")
	pid := a.createProperty(t, owner, "Acme Support").PropertyID
	iid := a.invite(t, owner, pid, map[string]string{"email": ann.Email, "role": "agent"}).Invitations[0].ID
	a.command(t, http.MethodPost, "/v1/properties/"+pid+"/invitations/"+iid+"/resend", owner.Token, nil, nil, http.StatusOK)
	toks := a.inviteTokens(t, ann.Email)
	if len(toks) != 2 || toks[0] == toks[1] {
		t.Fatalf("tokens mailed to %s: %q, want two different ones (invite, resend)", ann.Email, toks)
	}
	a.do(t, http.MethodPost, "/v1/invitations/accept", ann.Token, map[string]string{"token": toks[0]}, nil).
		wantProblem(t, http.StatusNotFound, "invalid_token")
	a.do(t, http.MethodPost, "/v1/invitations/accept", ann.Token, map[string]string{"token": toks[1]}, nil).want(t, http.StatusOK)

	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"mail", "status"}, func(k string) string {
		return map[string]string{"ROSTER_PG_URL": a.pgURL}[k]
	}, &out, &errOut)
	if code != 0 {
		t.Fatalf("roster mail status = %d: %s", code, errOut.String())
	}
	for _, want := range []string{"pending  0", "sent     2", "failed   0"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("roster mail status lacks %q:\n%s", want, out.String())
		}
	}
}
