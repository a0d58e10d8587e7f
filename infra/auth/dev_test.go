package auth

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDevAccountIDIsTheSameForTheSameEmailOnly(t *testing.T) {
	a, again, b := DevAccountID("ada@example.com"), DevAccountID("ada@example.com"), DevAccountID("bob@example.com")
	if a != again {
		t.Errorf("one email gave two accounts: %s, %s", a, again)
	}
	if a == b {
		t.Errorf("two emails share account %s", a)
	}
}

func TestMintDevGivesAVerifiedTokenForTheEmail(t *testing.T) {
	v, err := NewVerifier(context.Background(), VerifierConfig{Secret: testSecret, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	dev, err := MintDev(testSecret, "", "", "ada@example.com", 8*time.Hour, testNow)
	if err != nil {
		t.Fatalf("MintDev: %v", err)
	}
	if want := testNow.Add(8 * time.Hour); !dev.ExpiresAt.Equal(want) || dev.AccountID != DevAccountID("ada@example.com") {
		t.Errorf("MintDev = %+v, want account %s until %s", dev, DevAccountID("ada@example.com"), want)
	}
	got, err := v.Verify(context.Background(), dev.Token)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	want := Claims{Subject: dev.AccountID, Email: "ada@example.com", EmailVerified: true}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("claims (-want +got):\n%s", diff)
	}
	if _, err := MintDev(testSecret, "", "", "", time.Hour, testNow); err == nil {
		t.Error("MintDev minted a token for no email")
	}
}
