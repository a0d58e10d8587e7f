package domain

import "strings"

// Codes of the access-check API, which the platform's other services call.
const (
	CodeServiceOnly        = "service_only"         // the access-check API takes a service's token, never a person's
	CodeServiceNotAllowed  = "service_not_allowed"  // the service is not one the operators accept, or lacks the scope
	CodeUnknownPermission  = "unknown_permission"   // a permission the permission table does not name
	CodeInvalidChecks      = "invalid_checks"       // items of a bulk check are wrong; each is named
	CodeTooManyChecks      = "too_many_checks"      // a bulk check of more items than allowed
	CodePositionNotReached = "position_not_reached" // the answer could not be taken at or after at_least in time
	CodeCheckStale         = "check_stale"          // no answer within the staleness bound could be given in time
)

// ParsePermission reads a permission by its name in the permission table
// (exactly, as the API documents it). It returns an *Error of kind
// KindMalformed with CodeUnknownPermission naming anything else.
func ParsePermission(s string) (Permission, error) {
	for _, g := range permissionTable {
		if string(g.perm) == s {
			return g.perm, nil
		}
	}
	names := make([]string, len(permissionTable))
	for i, g := range permissionTable {
		names[i] = string(g.perm)
	}
	return "", Errorf(KindMalformed, CodeUnknownPermission, "permission %q is not one of %s", s, strings.Join(names, ", "))
}
