package invitetoken_test

import (
	"testing"

	"github.com/google/uuid"

	"github.com/rosterhq/roster/infra/invitetoken"
)

var tokenKey = []byte("roster-test-invitation-key-32-bytes!")

// TestTokenRoundTrip: a minted token parses back to its IDs and is valid for
// the nonce it was minted from, whitespace from a pasted link aside.
func TestTokenRoundTrip(t *testing.T) {
	tokens := invitetoken.New(tokenKey)
	pid, iid, nonce := uuid.NewString(), uuid.NewString(), uuid.NewString()
	token := tokens.Mint(pid, iid, nonce)
	for _, pasted := range []string{token, " " + token + "\n"} {
		gotPID, gotIID, err := tokens.Parse(pasted)
		if err != nil || gotPID != pid || gotIID != iid {
			t.Errorf("Parse(%q) = %s, %s, %v; want %s, %s", pasted, gotPID, gotIID, err, pid, iid)
		}
		if !tokens.Valid(pasted, pid, iid, nonce) {
			t.Errorf("Valid(%q) = false for the nonce it was minted from", pasted)
		}
	}
}
