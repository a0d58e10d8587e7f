// Package invitetoken derives the tokens invitation mails carry from the
// invitation's current nonce under a server key. Events and read models hold
// only the nonce, which is useless without the key; a resend changes the
// nonce, so the old token stops working. The commands that accept with a
// token and the mail that carries one both use it.
package invitetoken

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"

	"github.com/google/uuid"

	"github.com/rosterhq/roster/domain"
)

// Key mints and checks invitation tokens. It is safe for concurrent use.
type Key struct {
	key []byte
}

// New returns a Key over the server key key (at least 32 bytes advised).
func New(key []byte) *Key { return &Key{key: append([]byte(nil), key...)} }

// Mint returns the token for an invitation with the given nonce:
// "<property>.<invitation>.<mac>", so accepting needs no lookup table.
func (t *Key) Mint(propertyID, invitationID, nonce string) string {
	return propertyID + "." + invitationID + "." + t.mac(propertyID, invitationID, nonce)
}

// Parse splits a token into its property and invitation IDs. It checks the
// form only; Valid checks the MAC against the invitation's current nonce.
// Errors: an *domain.Error with CodeInvalidToken.
func (t *Key) Parse(token string) (propertyID, invitationID string, err error) {
	parts := strings.Split(strings.TrimSpace(token), ".")
	if len(parts) != 3 || parts[2] == "" {
		return "", "", Invalid()
	}
	if _, err := uuid.Parse(parts[0]); err != nil {
		return "", "", Invalid()
	}
	if _, err := uuid.Parse(parts[1]); err != nil {
		return "", "", Invalid()
	}
	return parts[0], parts[1], nil
}

// Valid reports, in constant time, whether token is the current token of the invitation.
func (t *Key) Valid(token, propertyID, invitationID, nonce string) bool {
	want := t.Mint(propertyID, invitationID, nonce)
	return hmac.Equal([]byte(strings.TrimSpace(token)), []byte(want))
}

func (t *Key) mac(propertyID, invitationID, nonce string) string {
	h := hmac.New(sha256.New, t.key)
	h.Write([]byte("roster-invitation-v1\x00" + propertyID + "\x00" + invitationID + "\x00" + nonce))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// Invalid is the error for a token that is not, or no longer, any
// invitation's: a *domain.Error with CodeInvalidToken, worded the same
// whichever check refused it.
func Invalid() error {
	return domain.Errorf(domain.KindNotFound, domain.CodeInvalidToken,
		"the invitation link is not valid, or a newer invitation email replaced it")
}
