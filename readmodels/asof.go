package readmodels

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/recorded"
)

// StreamReader reads a property's stream from the event store, at most
// limit events from revision from on, so a long stream is folded a page at
// a time rather than held whole.
type StreamReader interface {
	ReadStreamPage(ctx context.Context, stream string, from uint64, limit int) ([]eventstore.RecordedEvent, error)
}

// historyPage is how many events a fold reads at a time.
const historyPage = 1000

// Opener turns the sealed personal fields of stored events back into
// plaintext (or into the marker of an erased value), in place.
type Opener interface {
	Open(ctx context.Context, recs []eventstore.RecordedEvent) error
}

// HistoryConfig is what a History is built from.
type HistoryConfig struct {
	// Events is the event store the property streams are read from.
	Events StreamReader
	// Opener, when set, opens sealed personal fields before the events are
	// folded. Leave it nil (not a nil pointer) when events hold plaintext.
	Opener Opener
	// Now is the clock that tells a past moment from a future one; time.Now
	// when nil.
	Now func() time.Time
	// Pool, when set, is the database that keeps snapshots of the fold
	// (history_snapshots), so that an answer folds the events after the
	// newest snapshot it may start from, not the whole stream. Without it
	// every answer folds the stream from its first event.
	Pool *pgxpool.Pool
	// SnapshotEvery is how many events apart snapshots are written;
	// DefaultSnapshotEvery when zero or less.
	SnapshotEvery int
	// Log hears of snapshots that could not be written: the answer is
	// right all the same, only the next one is slower. Silent when unset.
	Log zerolog.Logger
}

// History answers what a property looked like at a moment: its members,
// one account's access, an access review. It is the one part of readmodels
// that reads the event store rather than the tables: the tables keep only
// the present, and a past moment can only be had by folding the events that
// led up to it. With a Pool it starts each fold from the newest snapshot of
// the fold that the moment may use and writes new ones as it passes them
// (section 8 of docs/ARCHITECTURE.md), so that, once they cover the
// history, an answer costs the state it shows and at most SnapshotEvery
// events, not the stream's length. It is safe for concurrent use.
type History struct {
	events StreamReader
	opener Opener
	now    func() time.Time
	snaps  *snapshots
	every  uint64
	log    zerolog.Logger
	// capturing holds the properties a fold is taking snapshots of.
	capturing sync.Map
}

// NewHistory returns a History over c.Events.
func NewHistory(c HistoryConfig) *History {
	h := &History{events: c.Events, opener: c.Opener, now: c.Now, every: DefaultSnapshotEvery, log: c.Log}
	if h.now == nil {
		h.now = time.Now
	}
	if c.Pool != nil {
		h.snaps = &snapshots{pool: c.Pool}
	}
	if c.SnapshotEvery > 0 {
		h.every = uint64(c.SnapshotEvery)
	}
	return h
}

// AsOfParam names the moment in errors, as the HTTP API spells its parameter.
const AsOfParam = "as_of"

// ParseAsOf reads a moment as RFC 3339 (fractional seconds allowed) and
// returns it in UTC. It returns a *domain.Error of kind KindInvalid
// (CodeInvalidQuery) naming as_of for anything else.
func ParseAsOf(raw string) (time.Time, error) {
	at, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(raw))
	if err != nil {
		return time.Time{}, asOfError(raw, "is not an RFC 3339 time such as 2026-03-02T09:00:00Z")
	}
	return at.UTC(), nil
}

// asOfError is the error for a moment that cannot be answered, naming it.
func asOfError(value, why string) error {
	return &domain.Error{
		Kind:    domain.KindInvalid,
		Code:    domain.CodeInvalidQuery,
		Message: AsOfParam + " " + strconv.Quote(value) + " " + why,
		Problems: []domain.Problem{{Index: -1, Field: AsOfParam, Value: value,
			Code: domain.CodeInvalidQuery, Message: why}},
	}
}

// MemberPageAsOf is a page of the members a property had at AsOf: the
// shape of MemberPage, with the moment added.
type MemberPageAsOf struct {
	AsOf time.Time `json:"as_of"`
	MemberPage
}

// AccessAsOf is an account's access at AsOf: the shape of Access, with the
// moment added.
type AccessAsOf struct {
	AsOf time.Time `json:"as_of"`
	Access
}

// Snapshot is a property and every member it had at AsOf, as `roster
// property show` prints it.
type Snapshot struct {
	AsOf     time.Time `json:"as_of"`
	Property Property  `json:"property"`
	Members  []Member  `json:"members"`
}

// Members returns one page of the members pid had at moment at, filtered
// and paged exactly as Store.Members pages the present (by email then
// account ID, with the same keyset cursors), so a client pages the past as
// it pages today. Errors: those of Store.Members for a bad filter; as_of
// (KindInvalid, CodeInvalidQuery) for a moment in the future;
// CodePropertyNotFound (KindNotFound) when the property did not exist yet;
// an internal error when the events cannot be read.
func (h *History) Members(ctx context.Context, pid string, at time.Time, f MemberFilter) (MemberPageAsOf, error) {
	sel, err := f.selection()
	if err != nil {
		return MemberPageAsOf{}, err
	}
	s, err := h.fold(ctx, pid, at)
	if err != nil {
		return MemberPageAsOf{}, err
	}
	page := MemberPage{Members: []Member{}}
	for _, m := range s.members() {
		if !sel.keeps(m) {
			continue
		}
		if len(page.Members) == sel.limit {
			last := page.Members[len(page.Members)-1]
			page.NextCursor = encodeCursor(memberKey{Email: last.Email, AccountID: last.AccountID})
			break
		}
		page.Members = append(page.Members, m)
	}
	return MemberPageAsOf{AsOf: s.at, MemberPage: page}, nil
}

// Access returns what accountID could do on pid at moment at, in the shape
// of Store.Access. Errors: as Members, and CodeMemberNotFound (KindNotFound)
// when the account was not a member then.
func (h *History) Access(ctx context.Context, pid, accountID string, at time.Time) (AccessAsOf, error) {
	s, err := h.fold(ctx, pid, at)
	if err != nil {
		return AccessAsOf{}, err
	}
	dm, ok := s.p.Members[accountID]
	if !ok {
		return AccessAsOf{}, domain.Errorf(domain.KindNotFound, domain.CodeMemberNotFound,
			"account %s was not a member of property %s at %s", accountID, pid, s.at.Format(time.RFC3339Nano))
	}
	m := s.member(dm)
	return AccessAsOf{AsOf: s.at, Access: Access{PropertyID: pid, AccountID: m.AccountID, Role: m.Role,
		Status: m.Status, Owner: m.Owner, Permissions: s.p.RoleSet().Permissions(m.Role, m.Owner, m.Status),
		UpdatedAt: m.UpdatedAt, AccessUntil: m.AccessUntil}}, nil
}

// Snapshot returns pid and all its members at moment at. Errors: as Members.
func (h *History) Snapshot(ctx context.Context, pid string, at time.Time) (Snapshot, error) {
	s, err := h.fold(ctx, pid, at)
	if err != nil {
		return Snapshot{}, err
	}
	return Snapshot{AsOf: s.at, Property: s.property(), Members: s.members()}, nil
}

// selection is a MemberFilter checked once, before any event is read.
type selection struct {
	role   domain.Role
	status domain.MemberStatus
	prefix string
	after  *memberKey
	limit  int
}

// selection checks f as Store.Members does and with the same errors, so a
// filter means the same whichever moment it is asked of.
func (f MemberFilter) selection() (selection, error) {
	var sel selection
	if f.Role != "" {
		role, err := domain.ParseRoleRef(f.Role)
		if err != nil {
			return sel, invalid("role", f.Role, "is not one of admin, agent or a custom role's id")
		}
		sel.role = role
	}
	if f.Status != "" {
		switch st := domain.MemberStatus(strings.ToLower(strings.TrimSpace(f.Status))); st {
		case domain.StatusEnabled, domain.StatusDisabled:
			sel.status = st
		default:
			return sel, invalid("status", f.Status, "is not one of enabled, disabled")
		}
	}
	sel.prefix = strings.ToLower(strings.TrimSpace(f.Query))
	if f.Cursor != "" {
		key, err := decodeCursor[memberKey](f.Cursor)
		if err != nil {
			return sel, invalid("cursor", f.Cursor, "is not a cursor this API gave out")
		}
		sel.after = &key
	}
	switch {
	case f.Limit == 0:
		sel.limit = DefaultMemberLimit
	case f.Limit < 0 || f.Limit > MaxMemberLimit:
		return sel, invalid("limit", strconv.Itoa(f.Limit), fmt.Sprintf("is not between 1 and %d", MaxMemberLimit))
	default:
		sel.limit = f.Limit
	}
	return sel, nil
}

// keeps reports whether m passes the selection and comes after its cursor.
func (sel selection) keeps(m Member) bool {
	switch {
	case sel.role != "" && m.Role != sel.role,
		sel.status != "" && m.Status != sel.status,
		!strings.HasPrefix(m.Email, sel.prefix):
		return false
	case sel.after != nil:
		return compareMembers(m.Email, m.AccountID, sel.after.Email, sel.after.AccountID) > 0
	}
	return true
}

// compareMembers orders members by email then account ID, bytewise, as
// rm_members' COLLATE "C" columns order them.
func compareMembers(emailA, accountA, emailB, accountB string) int {
	if c := strings.Compare(emailA, emailB); c != 0 {
		return c
	}
	return strings.Compare(accountA, accountB)
}

// fold reads pid's stream and applies the longest prefix of it whose events
// all happened at or before at. A prefix, not every event up to at: should
// clocks have let a later revision carry an earlier time, skipping the
// event before it would fold a state that never existed. With snapshots, it
// starts from the newest one whose events all happened by at, which is a
// prefix of that prefix, and keeps a snapshot at each multiple of the
// interval it passes.
func (h *History) fold(ctx context.Context, pid string, at time.Time) (*past, error) {
	at = at.UTC()
	if now := h.now(); at.After(now) {
		return nil, asOfError(at.Format(time.RFC3339Nano),
			"is in the future (it is now "+now.UTC().Format(time.RFC3339)+"); the past only is on record")
	}
	var (
		s       *past
		checkID string // the ID the event before s must have, when s is a snapshot
		epoch   int64
		taken   []snapshot
	)
	// Only one fold of a property at a time, in this process, takes
	// snapshots: the others would encode and send the same ones.
	capture := false
	if h.snaps != nil {
		var err error
		if s, checkID, epoch, err = h.snaps.start(ctx, pid, at); err != nil {
			return nil, err
		}
		if _, busy := h.capturing.LoadOrStore(pid, true); !busy {
			capture = true
			defer h.capturing.Delete(pid)
		}
	}
	if s == nil {
		s = newPast(pid, at)
	}
	// From a snapshot a fold needs at most an interval of events; a longer
	// page would open (decrypt) events it never folds.
	page := historyPage
	if h.snaps != nil {
		page = int(min(uint64(historyPage), h.every+1))
	}
	base := s.p.Version
	from := base
	if checkID != "" {
		from = base - 1
	}
	for done := false; !done; {
		recs, err := h.events.ReadStreamPage(ctx, domain.StreamName(pid), from, page)
		if err != nil {
			return nil, fmt.Errorf("read the events of property %s: %w", pid, err)
		}
		done = len(recs) < page
		if checkID != "" {
			if len(recs) == 0 || recs[0].ID != checkID {
				// The snapshots are of another history of this property
				// (an in-memory store restarted): fold from the start.
				if err := h.snaps.discard(ctx, pid); err != nil {
					h.log.Warn().Err(err).Str("property_id", pid).Msg("history snapshots of another stream not deleted")
				}
				s, checkID, base, from, done = newPast(pid, at), "", 0, 0, false
				continue
			}
			recs, checkID = recs[1:], ""
		}
		if h.opener != nil && len(recs) > 0 {
			if err := h.opener.Open(ctx, recs); err != nil {
				return nil, fmt.Errorf("open the events of property %s: %w", pid, err)
			}
		}
		for _, rec := range recs {
			e, err := recorded.Decode(rec)
			if err != nil {
				return nil, err
			}
			if e.At().After(at) {
				done = true
				break
			}
			s.apply(e)
			if capture && s.p.Version%h.every == 0 && s.p.Version > base {
				sn, err := s.capture(rec.ID)
				if err != nil {
					return nil, err
				}
				// The newest ones are kept: they serve the moments
				// nearest this one, and a fold at an older moment
				// writes those before it.
				if len(taken) == maxSnapshotsPerFold {
					taken = slices.Delete(taken, 0, 1)
				}
				taken = append(taken, sn)
			}
		}
		from = s.p.Version
	}
	if !s.p.Exists() {
		return nil, domain.Errorf(domain.KindNotFound, domain.CodePropertyNotFound,
			"property %s did not exist at %s", pid, at.Format(time.RFC3339Nano))
	}
	if len(taken) > 0 {
		if err := h.snaps.save(ctx, pid, epoch, taken); err != nil && !errors.Is(err, errForgotten) {
			h.log.Warn().Err(err).Str("property_id", pid).Msg("history snapshots not written")
		}
	}
	return s, nil
}

// past is a property folded up to a moment, with what the domain's state
// leaves out and the answers need: when ownership moved, how each member
// came in, who sent each invitation, and each member's last access change.
type past struct {
	at        time.Time
	p         *domain.Property
	createdAt time.Time
	updatedAt time.Time
	// maxAt is the latest time of the events folded: a snapshot of this
	// state may answer a moment from maxAt on.
	maxAt time.Time
	// ownerMoved is when ownership last moved to or from an account: the
	// members read model counts that as a change to both rows.
	ownerMoved map[string]time.Time
	// joinedVia is the invitation each member accepted to join.
	joinedVia map[string]string
	// inviters is who sent each invitation.
	inviters map[string]ReviewActor
	// lastChange is each member's last change of access since joining.
	lastChange map[string]AccessChange
	// awaiting are the invitations accepted whose join is still to come:
	// the join names them, so a snapshot between the two must keep them.
	awaiting map[string]bool
}

func newPast(pid string, at time.Time) *past {
	return &past{at: at, p: domain.NewProperty(pid), ownerMoved: map[string]time.Time{},
		joinedVia: map[string]string{}, inviters: map[string]ReviewActor{}, lastChange: map[string]AccessChange{},
		awaiting: map[string]bool{}}
}

// apply folds one event into the state and notes what the domain does not.
func (s *past) apply(e recorded.Event) {
	at := e.At().UTC()
	s.p.Apply(e.Event, at)
	s.updatedAt = at
	if at.After(s.maxAt) {
		s.maxAt = at
	}
	// Only a verified email names who acted: anyone can claim any other.
	by := ReviewActor{AccountID: e.Meta.ActorID, Email: e.Meta.ShownActorEmail()}
	switch ev := e.Event.(type) {
	case domain.PropertyCreated:
		s.createdAt = at
	case domain.MemberInvited:
		inviter := ReviewActor{AccountID: ev.InvitedBy}
		if ev.InvitedBy == by.AccountID {
			inviter.Email = by.Email
		}
		s.inviters[ev.InvitationID] = inviter
	case domain.InvitationAccepted:
		s.awaiting[ev.InvitationID] = true
	case domain.MemberJoined:
		s.forget(ev.AccountID)
		if ev.InvitationID != "" {
			s.joinedVia[ev.AccountID] = ev.InvitationID
			delete(s.awaiting, ev.InvitationID)
		}
	case domain.MemberRoleChanged:
		s.changed(ev.AccountID, e.Type, by, at)
	case domain.MemberAccessDisabled:
		s.changed(ev.AccountID, e.Type, by, at)
	case domain.MemberAccessEnabled:
		s.changed(ev.AccountID, e.Type, by, at)
	case domain.MemberAccessUntilChanged:
		s.changed(ev.AccountID, e.Type, by, at)
	case domain.MemberAccessExpired:
		s.changed(ev.AccountID, e.Type, by, at)
	case domain.OwnershipTransferred:
		for _, acc := range []string{ev.From, ev.To} {
			s.ownerMoved[acc] = at
			s.changed(acc, e.Type, by, at)
		}
	case domain.MemberRemoved:
		s.forget(ev.AccountID)
	case domain.MemberLeft:
		s.forget(ev.AccountID)
	}
}

// changed records a change of a current member's access.
func (s *past) changed(accountID, eventType string, by ReviewActor, at time.Time) {
	if _, ok := s.p.Members[accountID]; ok {
		s.lastChange[accountID] = AccessChange{Type: eventType, By: by, At: at}
	}
}

// forget drops what belonged to a membership that ended or starts afresh.
func (s *past) forget(accountID string) {
	delete(s.ownerMoved, accountID)
	delete(s.joinedVia, accountID)
	delete(s.lastChange, accountID)
}

// member is dm as the members read model shows it.
func (s *past) member(dm *domain.Member) Member {
	updated := dm.UpdatedAt
	if t, ok := s.ownerMoved[dm.AccountID]; ok && t.After(updated) {
		updated = t
	}
	// The status in force at the moment asked: an access whose end had come
	// was disabled then, whether or not MemberAccessExpired followed yet.
	m := Member{AccountID: dm.AccountID, Email: dm.Email, Role: dm.Role, Status: dm.StatusAt(s.at),
		Owner: dm.AccountID == s.p.OwnerID, JoinedAt: dm.JoinedAt.UTC(), UpdatedAt: updated.UTC()}
	if dm.AccessUntil != nil {
		until := dm.AccessUntil.UTC()
		m.AccessUntil = &until
	}
	return m
}

// members returns every member, ordered by email then account ID.
func (s *past) members() []Member {
	out := make([]Member, 0, len(s.p.Members))
	for _, dm := range s.p.Members {
		out = append(out, s.member(dm))
	}
	slices.SortFunc(out, func(a, b Member) int { return compareMembers(a.Email, a.AccountID, b.Email, b.AccountID) })
	return out
}

// property is the property as the properties read model shows it.
func (s *past) property() Property {
	pending := 0
	for _, inv := range s.p.Invitations {
		if inv.Status == domain.InvitePending {
			pending++
		}
	}
	return Property{ID: s.p.ID, Name: s.p.Name, OwnerID: s.p.OwnerID, Revision: s.p.Version - 1,
		MemberCount: len(s.p.Members), PendingInvitationCount: pending, CreatedAt: s.createdAt, UpdatedAt: s.updatedAt}
}
