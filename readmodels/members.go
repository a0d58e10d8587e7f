package readmodels

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster/domain"
)

// Page sizes of Members.
const (
	DefaultMemberLimit = 50
	MaxMemberLimit     = 200
)

// Member is one member of a property.
type Member struct {
	AccountID string              `json:"account_id"`
	Email     string              `json:"email"`
	Role      domain.Role         `json:"role"`
	Status    domain.MemberStatus `json:"status"`
	// Owner marks the property's owner, an admin with one extra right.
	Owner     bool      `json:"owner"`
	JoinedAt  time.Time `json:"joined_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// AccessUntil is when the member's access ends (or ended); null when it
	// does not.
	AccessUntil *time.Time `json:"access_until"`
}

// CanRead reports whether the member may read the property's members,
// invitations and audit: every enabled member may, whatever its role.
func (m Member) CanRead() bool { return m.Status == domain.StatusEnabled }

// MemberFilter selects and pages the members of a property. Every field is
// optional.
type MemberFilter struct {
	// Role keeps members with this role: admin or agent.
	Role string
	// Status keeps members with this status: enabled or disabled.
	Status string
	// Query keeps members whose email starts with it, ignoring case.
	// Roster keeps no names (an account is an ID and an email), so the
	// "email or name prefix" of the API is an email prefix. Emails are
	// stored lower-cased and compared bytewise, so the prefix is a range
	// scan of the page indexes, whose next column is the email.
	Query string
	// Cursor continues after the page that returned it as NextCursor.
	Cursor string
	// Limit is the page size: 0 means DefaultMemberLimit; at most MaxMemberLimit.
	Limit int
}

// MemberPage is one page of members, ordered by email then account ID.
type MemberPage struct {
	Members []Member `json:"members"`
	// NextCursor fetches the next page; it is empty on the last page.
	NextCursor string `json:"next_cursor"`
}

// memberColumns are the columns scanMember reads. The status is the one in
// force at the moment in parameter now: an access whose end has come is
// disabled from that moment, before MemberAccessExpired says so (section 12
// of docs/ARCHITECTURE.md).
func memberColumns(now string) string {
	return `account_id, email, role, ` + memberStatusAt(now) + `, is_owner, joined_at, updated_at, access_until`
}

// memberStatusAt is the SQL of a member's status at the moment in parameter now.
func memberStatusAt(now string) string {
	return `CASE WHEN status = 'enabled' AND access_until <= ` + now + ` THEN 'disabled' ELSE status END`
}

// Membership returns the membership of accountID in pid, in any status;
// found is false when the account is not a member (or the property does
// not exist). Read access needs found and Member.CanRead.
func (s *Store) Membership(ctx context.Context, pid, accountID string) (m Member, found bool, err error) {
	rows, err := s.pool.Query(ctx, `SELECT `+memberColumns("$3")+` FROM rm_members
		WHERE property_id = $1 AND account_id = $2`, pid, accountID, s.clock())
	if err != nil {
		return Member{}, false, fmt.Errorf("read membership %s in %s: %w", accountID, pid, err)
	}
	m, err = pgx.CollectExactlyOneRow(rows, scanMember)
	if isNoRows(err) {
		return Member{}, false, nil
	}
	if err != nil {
		return Member{}, false, fmt.Errorf("read membership %s in %s: %w", accountID, pid, err)
	}
	return m, true, nil
}

// Members returns one page of the members of pid that pass f, ordered by
// email then account ID and paged by key, so members joining or leaving
// between pages neither repeat nor hide others. An unknown property gives an
// empty page. It returns a *domain.Error of kind KindInvalid
// (CodeInvalidRequest) naming the bad value for an unknown role or status, a
// cursor this API did not give out, or a limit outside 0..MaxMemberLimit.
func (s *Store) Members(ctx context.Context, pid string, f MemberFilter) (MemberPage, error) {
	where := []string{"property_id = $1"}
	args := []any{pid, s.clock()}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "$?", "$"+strconv.Itoa(len(args))))
	}
	if f.Role != "" {
		role, err := domain.ParseRoleRef(f.Role)
		if err != nil {
			return MemberPage{}, invalid("role", f.Role, "is not one of admin, agent or a custom role's id")
		}
		add("role = $?", string(role))
	}
	if f.Status != "" {
		switch st := domain.MemberStatus(strings.ToLower(strings.TrimSpace(f.Status))); st {
		case domain.StatusEnabled, domain.StatusDisabled:
			// The stored status and the end of access together, so that
			// the status index still narrows the scan.
			if st == domain.StatusEnabled {
				add("status = $? AND (access_until IS NULL OR access_until > $2)", string(st))
			} else {
				add("(status = $? OR access_until <= $2)", string(st))
			}
		default:
			return MemberPage{}, invalid("status", f.Status, "is not one of enabled, disabled")
		}
	}
	// Emails are stored normalised (lower case), so a lower-cased prefix
	// matches regardless of how the caller typed it, and the index serves it.
	if q := strings.ToLower(strings.TrimSpace(f.Query)); q != "" {
		add("email LIKE $?", likePrefix(q))
	}
	if f.Cursor != "" {
		key, err := decodeCursor[memberKey](f.Cursor)
		if err != nil {
			return MemberPage{}, invalid("cursor", f.Cursor, "is not a cursor this API gave out")
		}
		args = append(args, key.Email, key.AccountID)
		where = append(where, fmt.Sprintf("(email, account_id) > ($%d, $%d)", len(args)-1, len(args)))
	}
	limit, err := pageLimit(f.Limit, DefaultMemberLimit, MaxMemberLimit)
	if err != nil {
		return MemberPage{}, err
	}
	// One row more than the page tells whether another page follows.
	args = append(args, limit+1)
	query := `SELECT ` + memberColumns("$2") + ` FROM rm_members WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY email, account_id LIMIT $` + strconv.Itoa(len(args))

	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return MemberPage{}, fmt.Errorf("read members of %s: %w", pid, err)
	}
	members, err := pgx.CollectRows(rows, scanMember)
	if err != nil {
		return MemberPage{}, fmt.Errorf("read members of %s: %w", pid, err)
	}
	page := MemberPage{Members: members}
	if len(members) > limit {
		page.Members = members[:limit]
		last := page.Members[limit-1]
		page.NextCursor = encodeCursor(memberKey{Email: last.Email, AccountID: last.AccountID})
	}
	return page, nil
}

func scanMember(row pgx.CollectableRow) (Member, error) {
	var (
		m            Member
		role, status string
	)
	err := row.Scan(&m.AccountID, &m.Email, &role, &status, &m.Owner, &m.JoinedAt, &m.UpdatedAt, &m.AccessUntil)
	m.Role, m.Status = domain.Role(role), domain.MemberStatus(status)
	utc(&m.JoinedAt, &m.UpdatedAt)
	if m.AccessUntil != nil {
		utc(m.AccessUntil)
	}
	return m, err
}

// likePrefix is a LIKE pattern matching strings that start with s.
func likePrefix(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s) + "%"
}

// memberKey is the sort key of the last member of a page, which the opaque
// cursor carries as base64url JSON.
type memberKey struct {
	Email     string `json:"e"`
	AccountID string `json:"a"`
}

// check refuses a member cursor without its account ID.
func (k memberKey) check() error {
	if k.AccountID == "" {
		return fmt.Errorf("cursor has no account id")
	}
	return nil
}
