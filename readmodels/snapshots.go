package readmodels

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rosterhq/roster/domain"
)

// Snapshots of the fold (section 8 of docs/ARCHITECTURE.md) live in
// history_snapshots (migration 0014). They are written by the fold itself
// after it passes a multiple of the snapshot interval, and read back by the
// next fold of the same property as its starting point, so that an answer
// folds at most one interval of events and not the whole stream.

// DefaultSnapshotEvery is how many events apart the fold writes snapshots:
// the most a fold that finds them reads past the newest one it may use.
const DefaultSnapshotEvery = 500

// maxSnapshotsPerFold bounds what one fold writes, so that the first
// answer about a long property does not write a snapshot for each interval
// of its history at once: it writes those nearest its moment, and the
// history before them is covered by the folds that ask of it.
const maxSnapshotsPerFold = 8

// snapshotFormat versions snapState and the fold that writes it. Raise it
// when either changes: snapshots of another format are passed over, and a
// fold writes new ones.
const snapshotFormat = 2

// snapState is what a snapshot stores of a past: what the answers read,
// and no more. Invitations that were accepted, revoked or declined are left
// out unless a member joined through one or its join is still to come: no
// later event changes them (only a pending invitation is resent, accepted,
// revoked or declined), and no answer shows them otherwise. Keeping them would make a snapshot grow
// with the history rather than with the answer. Token nonces are left out
// too: no answer shows one, and no read model holds one.
type snapState struct {
	Name        string           `json:"name"`
	OwnerID     string           `json:"owner_id"`
	CreatedAt   time.Time        `json:"created_at"`
	UpdatedAt   time.Time        `json:"updated_at"`
	MaxAt       time.Time        `json:"max_at"`
	Members     []snapMember     `json:"members"`
	Invitations []snapInvitation `json:"invitations"`
	// Roles are the property's custom roles, in creation order (format 2).
	Roles []snapRole `json:"roles,omitempty"`
}

type snapRole struct {
	ID          domain.Role         `json:"id"`
	Name        string              `json:"name"`
	Permissions []domain.Permission `json:"permissions"`
	CreatedAt   time.Time           `json:"created_at"`
	UpdatedAt   time.Time           `json:"updated_at"`
}

type snapMember struct {
	AccountID  string              `json:"account_id"`
	Email      string              `json:"email"`
	Role       domain.Role         `json:"role"`
	Status     domain.MemberStatus `json:"status"`
	JoinedAt   time.Time           `json:"joined_at"`
	UpdatedAt  time.Time           `json:"updated_at"`
	OwnerMoved *time.Time          `json:"owner_moved,omitempty"`
	JoinedVia  string              `json:"joined_via,omitempty"`
	LastChange *AccessChange       `json:"last_change,omitempty"`
	// AccessUntil is when the member's access ends (format 2 on).
	AccessUntil *time.Time `json:"access_until,omitempty"`
}

type snapInvitation struct {
	ID        string                  `json:"id"`
	Email     string                  `json:"email"`
	Role      domain.Role             `json:"role"`
	Status    domain.InvitationStatus `json:"status"`
	InvitedBy string                  `json:"invited_by"`
	Inviter   ReviewActor             `json:"inviter"`
	CreatedAt time.Time               `json:"created_at"`
	ExpiresAt time.Time               `json:"expires_at"`
	UpdatedAt time.Time               `json:"updated_at"`
	// AccessUntil is when the membership offered ends (format 2 on).
	AccessUntil *time.Time `json:"access_until,omitempty"`
	// AwaitingJoin marks an accepted invitation whose join is yet to come.
	AwaitingJoin bool `json:"awaiting_join,omitempty"`
}

// snapshot is a past captured at a revision, encoded, ready to be stored.
type snapshot struct {
	revision uint64
	lastID   string
	maxAt    int64
	state    []byte
	emails   []string
	accounts []string
}

// capture encodes s as it stands after the event lastID.
func (s *past) capture(lastID string) (snapshot, error) {
	st := snapState{Name: s.p.Name, OwnerID: s.p.OwnerID, CreatedAt: s.createdAt, UpdatedAt: s.updatedAt,
		MaxAt: s.maxAt, Members: make([]snapMember, 0, len(s.p.Members))}
	joined := map[string]bool{}
	for _, dm := range s.p.Members {
		m := snapMember{AccountID: dm.AccountID, Email: dm.Email, Role: dm.Role, Status: dm.Status,
			JoinedAt: dm.JoinedAt, UpdatedAt: dm.UpdatedAt, JoinedVia: s.joinedVia[dm.AccountID], AccessUntil: dm.AccessUntil}
		if t, ok := s.ownerMoved[dm.AccountID]; ok {
			m.OwnerMoved = &t
		}
		if c, ok := s.lastChange[dm.AccountID]; ok {
			m.LastChange = &c
		}
		if m.JoinedVia != "" {
			joined[m.JoinedVia] = true
		}
		st.Members = append(st.Members, m)
	}
	slices.SortFunc(st.Members, func(a, b snapMember) int { return cmp.Compare(a.AccountID, b.AccountID) })
	for _, inv := range s.p.InvitationsInOrder() {
		if inv.Status != domain.InvitePending && !joined[inv.ID] && !s.awaiting[inv.ID] {
			continue
		}
		st.Invitations = append(st.Invitations, snapInvitation{ID: inv.ID, Email: inv.Email, Role: inv.Role,
			Status: inv.Status, InvitedBy: inv.InvitedBy, Inviter: s.inviters[inv.ID], CreatedAt: inv.CreatedAt,
			ExpiresAt: inv.ExpiresAt, UpdatedAt: inv.UpdatedAt, AwaitingJoin: s.awaiting[inv.ID], AccessUntil: inv.AccessUntil})
	}
	for _, d := range s.p.RolesInOrder() {
		st.Roles = append(st.Roles, snapRole{ID: d.ID, Name: d.Name, Permissions: d.Permissions,
			CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt})
	}
	data, err := json.Marshal(st)
	if err != nil {
		return snapshot{}, fmt.Errorf("encode the snapshot of property %s at revision %d: %w", s.p.ID, s.p.Version, err)
	}
	emails, accounts := st.people()
	return snapshot{revision: s.p.Version, lastID: lastID, maxAt: s.maxAt.UnixNano(), state: data,
		emails: emails, accounts: accounts}, nil
}

// people lists the emails, trimmed and lower-cased as the privacy scrub
// compares them, and the account IDs the state holds, each once.
func (st snapState) people() (emails, accounts []string) {
	emails, accounts = []string{}, []string{} // NOT NULL columns
	addEmail := func(e string) {
		if e = strings.ToLower(strings.TrimSpace(e)); e != "" {
			emails = append(emails, e)
		}
	}
	addAccount := func(a string) {
		if a != "" {
			accounts = append(accounts, a)
		}
	}
	addAccount(st.OwnerID)
	for _, m := range st.Members {
		addEmail(m.Email)
		addAccount(m.AccountID)
		if m.LastChange != nil {
			addEmail(m.LastChange.By.Email)
			addAccount(m.LastChange.By.AccountID)
		}
	}
	for _, inv := range st.Invitations {
		addEmail(inv.Email)
		addEmail(inv.Inviter.Email)
		addAccount(inv.InvitedBy)
		addAccount(inv.Inviter.AccountID)
	}
	slices.Sort(emails)
	slices.Sort(accounts)
	return slices.Compact(emails), slices.Compact(accounts)
}

// restore is the past pid had after version events, as st recorded it,
// asked of moment at. The domain's state keeps indexes of its own that only
// its Apply fills, so the state is rebuilt by applying the events that
// would create it as it stands, then set to the recorded values: a stand-in
// history, never stored, that yields the same state.
func restore(pid string, at time.Time, version uint64, st snapState) *past {
	s := newPast(pid, at)
	s.p.Apply(domain.PropertyCreated{Schema: 1, PropertyID: pid, Name: st.Name, OwnerID: st.OwnerID}, st.CreatedAt)
	for _, sr := range st.Roles {
		s.p.Apply(domain.RoleCreated{Schema: 1, RoleID: sr.ID, Name: sr.Name, Permissions: sr.Permissions}, sr.CreatedAt)
		s.p.CustomRoles[sr.ID].UpdatedAt = sr.UpdatedAt
	}
	for _, si := range st.Invitations {
		s.p.Apply(domain.MemberInvited{Schema: 1, InvitationID: si.ID, Email: si.Email, Role: si.Role,
			InvitedBy: si.InvitedBy, ExpiresAt: si.ExpiresAt, AccessUntil: si.AccessUntil}, si.CreatedAt)
		inv := s.p.Invitations[si.ID]
		inv.Status, inv.UpdatedAt = si.Status, si.UpdatedAt
		s.inviters[si.ID] = si.Inviter
		if si.AwaitingJoin {
			s.awaiting[si.ID] = true
		}
	}
	for _, sm := range st.Members {
		s.p.Apply(domain.MemberJoined{Schema: 1, AccountID: sm.AccountID, Email: sm.Email, Role: sm.Role,
			AccessUntil: sm.AccessUntil}, sm.JoinedAt)
		m := s.p.Members[sm.AccountID]
		m.Status, m.UpdatedAt = sm.Status, sm.UpdatedAt
		if sm.OwnerMoved != nil {
			s.ownerMoved[sm.AccountID] = *sm.OwnerMoved
		}
		if sm.JoinedVia != "" {
			s.joinedVia[sm.AccountID] = sm.JoinedVia
		}
		if sm.LastChange != nil {
			s.lastChange[sm.AccountID] = *sm.LastChange
		}
	}
	s.p.OwnerID, s.p.Version = st.OwnerID, version
	s.createdAt, s.updatedAt, s.maxAt = st.CreatedAt, st.UpdatedAt, st.MaxAt
	return s
}

// snapshots reads and writes history_snapshots.
type snapshots struct {
	pool *pgxpool.Pool
}

// start returns the newest snapshot of pid that moment at may use, as a
// past with the ID of the last event it folded, or nil when there is none;
// and the forget epoch, read before any event is opened (see save).
func (ss snapshots) start(ctx context.Context, pid string, at time.Time) (*past, string, int64, error) {
	var (
		epoch    int64
		revision *int64
		lastID   *string
		state    []byte
	)
	err := ss.pool.QueryRow(ctx, `SELECT e.epoch, s.revision, s.last_event_id, s.state
		FROM history_snapshot_epoch e
		LEFT JOIN LATERAL (SELECT revision, last_event_id, state FROM history_snapshots
			WHERE property_id = $1 AND format = $2 AND max_at_ns <= $3
			ORDER BY max_at_ns DESC, revision DESC LIMIT 1) s ON true`,
		pid, snapshotFormat, at.UnixNano()).Scan(&epoch, &revision, &lastID, &state)
	if err != nil {
		return nil, "", 0, fmt.Errorf("read the snapshots of property %s: %w", pid, err)
	}
	if revision == nil {
		return nil, "", epoch, nil
	}
	var st snapState
	if err := json.Unmarshal(state, &st); err != nil {
		return nil, "", 0, fmt.Errorf("decode the snapshot of property %s at revision %d: %w", pid, *revision, err)
	}
	return restore(pid, at, uint64(*revision), st), *lastID, epoch, nil
}

// errForgotten says a forget committed while the fold ran: its snapshots
// may hold what the forget erased, and are not written.
var errForgotten = errors.New("a person was forgotten meanwhile")

// save writes snaps of pid unless a forget has moved the epoch since the
// fold read it. The epoch row is held FOR SHARE until the snapshots are
// committed, and a forget updates it before deleting snapshots, so either
// the forget sees these snapshots and deletes what it must, or they are
// not written.
func (ss snapshots) save(ctx context.Context, pid string, epoch int64, snaps []snapshot) error {
	tx, err := ss.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	var now int64
	if err := tx.QueryRow(ctx, `SELECT epoch FROM history_snapshot_epoch FOR SHARE`).Scan(&now); err != nil {
		return err
	}
	if now != epoch {
		return errForgotten
	}
	var b pgx.Batch
	for _, sn := range snaps {
		b.Queue(`INSERT INTO history_snapshots
			(property_id, revision, format, last_event_id, max_at_ns, state, emails, accounts)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
			pid, int64(sn.revision), snapshotFormat, sn.lastID, sn.maxAt, sn.state, sn.emails, sn.accounts)
	}
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// discard deletes pid's snapshots: they are of another history than the
// stream's.
func (ss snapshots) discard(ctx context.Context, pid string) error {
	_, err := ss.pool.Exec(ctx, `DELETE FROM history_snapshots WHERE property_id = $1`, pid)
	return err
}
