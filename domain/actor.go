package domain

// Actor is who sends a command, as the verified token says.
type Actor struct {
	AccountID     string
	Email         string
	EmailVerified bool
}
