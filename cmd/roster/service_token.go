package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/rosterhq/roster/infra/auth"
)

// serviceToken prints, for `roster token -service NAME`, a development
// client-credentials token: the access-check API takes it, no other
// route does. problems are those tokenCmd found already.
func serviceToken(stdout io.Writer, problems []error, secret, issuer, audience, name, scope, email string, ttl time.Duration) error {
	if email != "" {
		problems = append(problems, errors.New("-service and -email exclude each other: a service's token carries no email"))
	}
	if secret == "" {
		problems = append(problems, errors.New("ROSTER_JWT_SECRET (or -jwt-secret) is required"))
	}
	if err := errors.Join(problems...); err != nil {
		return err
	}
	tok, err := auth.MintService([]byte(secret), issuer, audience, name, scope, ttl, time.Now())
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, tok)
	return err
}
