package domain

import (
	"errors"
	"fmt"
	"time"
)

// Kind is the closed set of error categories Roster reports. The HTTP layer
// maps each kind to one status code in one place; nothing else decides it.
type Kind string

// The kinds of error. Adding one means adding its status to the HTTP mapping.
const (
	KindInvalid         Kind = "invalid"         // the request is well-formed but its values are wrong
	KindUnauthenticated Kind = "unauthenticated" // no or bad credentials
	KindForbidden       Kind = "forbidden"       // the caller may not do this
	KindNotFound        Kind = "not_found"       // the thing does not exist, or the caller may not know it does
	KindConflict        Kind = "conflict"        // the current state refuses the change
	KindPrecondition    Kind = "precondition"    // an If-Match revision is stale
	KindMalformed       Kind = "malformed"       // the request cannot be read: bad JSON, unknown fields, bad header
	KindTooLarge        Kind = "too_large"       // the request body is over the limit
	KindUnavailable     Kind = "unavailable"     // a dependency is down; try again later
	KindTooMany         Kind = "too_many"        // the caller is over a bound; try again later
	KindInternal        Kind = "internal"        // a fault of ours; logged at the edge
)

// Stable error codes. Clients switch on these, so renaming one breaks them.
const (
	CodeInvalidRequest         = "invalid_request"
	CodeInvalidEmail           = "invalid_email"
	CodeInvalidRole            = "invalid_role"
	CodeInvalidName            = "invalid_name"
	CodeInvalidID              = "invalid_id"
	CodeInvalidInvitations     = "invalid_invitations"
	CodeDuplicateEmail         = "duplicate_email"
	CodeTooManyInvitations     = "too_many_invitations"
	CodeNoInvitations          = "no_invitations"
	CodeForbidden              = "forbidden"
	CodeAccessDisabled         = "access_disabled"
	CodeNotInvitee             = "not_invitee"
	CodeEmailUnverified        = "email_unverified"
	CodePropertyNotFound       = "property_not_found"
	CodeInvitationNotFound     = "invitation_not_found"
	CodeMemberNotFound         = "member_not_found"
	CodePropertyExists         = "property_exists"
	CodeAlreadyMember          = "already_member"
	CodeAlreadyInvited         = "already_invited"
	CodeInvitationExpired      = "invitation_expired"
	CodeInvitationRevoked      = "invitation_revoked"
	CodeInvitationDeclined     = "invitation_declined"
	CodeInvitationAccepted     = "invitation_accepted"
	CodeInvitationNotPending   = "invitation_not_pending"
	CodeInvalidToken           = "invalid_token"
	CodeLastAdmin              = "last_admin"
	CodeOwnerProtected         = "owner_protected"
	CodeOwnerCannotLeave       = "owner_cannot_leave"
	CodeNewOwnerNotAdmin       = "new_owner_not_admin"
	CodeAlreadyOwner           = "already_owner"
	CodeConcurrentModification = "concurrent_modification"
	CodeStaleRevision          = "stale_revision"
	CodeIdempotencyKeyReused   = "idempotency_key_reused"
	CodeUnauthenticated        = "unauthenticated"
	CodeInternal               = "internal"
	CodeMalformedJSON          = "malformed_json"
	CodeUnknownField           = "unknown_field"
	CodeBodyTooLarge           = "body_too_large"
	CodeInvalidHeader          = "invalid_header"
	CodeInvalidQuery           = "invalid_query"
	CodeNotAvailable           = "not_ready"
)

// Codes of invitations' lifetimes and a property's invitation policy.
const (
	CodeInvalidLifetime      = "invalid_lifetime"       // a lifetime outside 1 hour..30 days
	CodeLifetimeAboveMaximum = "lifetime_above_maximum" // longer than the property's maximum
	CodeDefaultAboveMaximum  = "default_above_maximum"  // a policy whose default is longer than its maximum
	CodeInvalidPolicy        = "invalid_policy"         // a policy with several problems (listed)
)

// Codes of a property's custom roles (docs/ARCHITECTURE.md section 13).
const (
	CodeRoleNotFound      = "role_not_found"     // no custom role with that ID in the property
	CodeBuiltinRole       = "builtin_role"       // admin and agent cannot be changed or deleted
	CodeInvalidRoleName   = "invalid_role_name"  // empty, too long, bad characters or a built-in's name
	CodeRoleNameTaken     = "role_name_taken"    // another role of the property has that name (case-insensitive)
	CodeInvalidPermission = "invalid_permission" // a permission not in the table, or one a custom role cannot hold
	CodeNoPermissions     = "no_permissions"     // a custom role must hold at least one permission
	CodeTooManyRoles      = "too_many_roles"     // more than MaxRolesPerProperty custom roles
	CodeRoleInUse         = "role_in_use"        // members or pending invitations hold the role
)

// Codes of the tamper-evident history (infra/chain).
const (
	CodeChainBroken             = "chain_broken"               // a chain that does not verify is not signed
	CodeSigningKeyNotConfigured = "signing_key_not_configured" // no ROSTER_AUDIT_SIGNING_KEY
)

// Codes of the request's edge: what the HTTP layer answers before, or
// instead of, any handler.
const (
	CodeInvalidPath = "invalid_path" // a path segment holds NUL, a control character or invalid UTF-8
	CodeUnavailable = "unavailable"  // a dependency (PostgreSQL) cannot be reached now; retry after Retry-After
)

// Codes of bounds on what a caller may run at once.
const (
	CodeTooManyLongReads = "too_many_long_reads" // too many exports, as_of queries or access reviews at once; retry after Retry-After
)

// Codes of importing members in bulk (Property.ImportMembers).
const (
	CodeNoImportRows      = "no_import_rows"       // an import with no row
	CodeTooManyImportRows = "too_many_import_rows" // more rows than MaxImportRows
	CodeDuplicateAccount  = "duplicate_account"    // two rows of one import name the same account
	CodeInvalidImport     = "invalid_import"       // several rows refused; each is in Problems
	CodeInvalidAccountID  = "invalid_account_id"   // an account ID that is empty, too long or holds spaces or controls
	CodeImportNotOwner    = "import_owner_only"    // an admin who does not own the property tried to import
)

// Codes of signing in to the dashboard.
const (
	CodeDevLoginOff = "dev_login_off" // development sign-in is not turned on
)

// Codes of text refused before it reaches an event: a value a read model
// could not store, or would store altered.
const (
	CodeInvalidText = "invalid_text" // not UTF-8, a NUL or control character, or too long
)

// Problem is one offending value inside a request, so a caller can fix every
// bad row of a bulk request at once.
type Problem struct {
	// Index is the row of a bulk request, or -1 when the problem is not in a row.
	Index   int    `json:"index"`
	Field   string `json:"field"`
	Value   string `json:"value"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Error is Roster's one error type: a kind, a stable code and a message fit to
// show the caller, and the offending values when there are several.
type Error struct {
	Kind     Kind
	Code     string
	Message  string
	Problems []Problem
	// RetryAfter, when positive, is how long the caller should wait before
	// trying again (KindTooMany and KindUnavailable).
	RetryAfter time.Duration
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

// Errorf builds an *Error of the given kind and code.
func Errorf(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// KindOf returns the kind of err, or KindInternal when err is not an *Error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// CodeOf returns the code of err, or CodeInternal when err is not an *Error.
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}
