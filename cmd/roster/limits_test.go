package main

// limitVars are the limits on writes, which startApp raises out of the
// way of the other tests.
var limitVars = []string{
	"ROSTER_LIMIT_INVITATIONS_PER_ACTOR_HOUR", "ROSTER_LIMIT_INVITATIONS_PER_PROPERTY_DAY", "ROSTER_LIMIT_NEW_EMAILS_PER_PROPERTY_DAY",
	"ROSTER_LIMIT_COMMANDS_PER_ACCOUNT_SECOND", "ROSTER_LIMIT_TOKEN_FAILURES_PER_IP_MINUTE",
}
