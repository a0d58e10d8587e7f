package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Defaults of the access-check API's settings, shown in the flags' help:
// the access index and the verifier apply them to a setting left zero.
const (
	DefaultCheckScope        = "roster:check"
	DefaultCheckMaxStaleness = time.Second
	DefaultCheckIndexSize    = 1_000_000
)

// checkSettings are the access-check API's variables; settings lists them
// after the others.
var checkSettings = []setting{
	{env: "ROSTER_CHECK_SERVICES", usage: "comma-separated `names` of the services (client_id, else sub, of their client-credentials tokens) allowed the access-check API; unset allows none",
		parse: checkServices},
	{env: "ROSTER_CHECK_SCOPE", usage: "`scope` a service's token must carry for the access-check API", def: DefaultCheckScope,
		parse: str(func(c *Config) *string { return &c.CheckScope })},
	{env: "ROSTER_CHECK_MAX_STALENESS", usage: "how old an access check without at_least may be, as a Go `duration`", def: DefaultCheckMaxStaleness.String(),
		parse: duration(func(c *Config) *time.Duration { return &c.CheckMaxStaleness })},
	{env: "ROSTER_CHECK_INDEX_SIZE", usage: "most `entries` (memberships and properties) the access index holds before it drops properties not asked about", def: strconv.Itoa(DefaultCheckIndexSize),
		parse: func(c *Config, v string) error {
			if v == "" {
				c.CheckIndexSize = 0
				return nil
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return fmt.Errorf("%q is not a whole number of at least 1", v)
			}
			c.CheckIndexSize = n
			return nil
		}},
}

// checkServices reads ROSTER_CHECK_SERVICES as operators reads
// ROSTER_OPERATORS.
func checkServices(c *Config, v string) (err error) {
	c.CheckServices, err = commaNames(v, "service names")
	return err
}

// commaNames reads names separated by commas, each trimmed; what names
// them in errors. An empty entry or one with a space inside is refused:
// it is a stray or a missing comma, and guessing would grant or deny the
// wrong caller.
func commaNames(v, what string) ([]string, error) {
	if v == "" {
		return nil, nil
	}
	var out []string
	for i, name := range strings.Split(v, ",") {
		name = strings.TrimSpace(name)
		switch {
		case name == "":
			return nil, fmt.Errorf("entry %d is empty; separate %s with single commas", i+1, what)
		case strings.ContainsFunc(name, unicode.IsSpace):
			return nil, fmt.Errorf("entry %q holds a space; separate %s with commas", name, what)
		}
		out = append(out, name)
	}
	return out, nil
}
