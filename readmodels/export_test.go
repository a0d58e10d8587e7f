package readmodels

import "time"

// MemberCursor is the cursor of a members page ending at this member, so a
// benchmark can start deep in a list without walking to it.
func MemberCursor(email, accountID string) string {
	return encodeCursor(memberKey{Email: email, AccountID: accountID})
}

// AuditCursor is the cursor of an audit page ending at this entry.
func AuditCursor(at time.Time, revision uint64) string {
	us := at.UnixMicro()
	return encodeCursor(auditKey{At: &us, Revision: &revision})
}

// SetExportPageRows makes EachAudit read n entries per query until the
// test ends. Tests that call it must not run in parallel.
func SetExportPageRows(t interface{ Cleanup(func()) }, n int) {
	was := exportPageRows
	exportPageRows = n
	t.Cleanup(func() { exportPageRows = was })
}
