package projections

import (
	"time"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/recorded"
)

// MyPropertiesName names the my_properties projection and its checkpoint.
const MyPropertiesName = "my_properties"

// MyProperties returns the projection behind rm_my_properties: for each
// account, the properties it is a member of, with the property's name and
// the account's role, status and owner flag there. A row goes when the
// member is removed or leaves. Names and owners are kept in the projection's
// own rm_my_properties_names, so it reads no other projection's tables and
// the owner flag is right whichever of PropertyCreated and the owner's
// MemberJoined comes first.
func MyProperties() Projection {
	return setwise(MyPropertiesName, []string{"rm_my_properties", "rm_my_properties_names"}, newMyPropertiesBatch, map[string]step[*myPropertiesBatch]{
		domain.TypePropertyCreated:      onEvent(myPropertiesCreated),
		domain.TypeMemberJoined:         onEvent(myPropertiesJoined),
		domain.TypeMemberRoleChanged:    onEvent(myPropertiesRoleChanged),
		domain.TypeMemberAccessDisabled: onEvent(myPropertiesAccessDisabled),
		domain.TypeMemberAccessEnabled:  onEvent(myPropertiesAccessEnabled),
		domain.TypeMemberRemoved:        onEvent(myPropertiesRemoved),
		domain.TypeMemberLeft:           onEvent(myPropertiesLeft),
		domain.TypeOwnershipTransferred: onEvent(myPropertiesOwnershipTransferred),

		domain.TypeMemberAccessExpired: onEvent(myPropertiesAccessExpired),
	})
}

type myPropertyRow struct {
	AccountID, PropertyID, PropertyName, Role, Status string
	IsOwner                                           bool
	JoinedAt, UpdatedAt                               time.Time
}

type propertyNameRow struct{ PropertyID, Name, OwnerID string }

var (
	myPropertiesSpec = (&tableSpec[myPropertyRow]{
		name: "rm_my_properties", keyCols: []string{"account_id", "property_id"},
		key:         func(r *myPropertyRow) rowKey { return rowKey{r.AccountID, r.PropertyID} },
		propertyCol: "property_id", property: func(r *myPropertyRow) string { return r.PropertyID },
		cols: []column[myPropertyRow]{
			col("account_id", func(r *myPropertyRow) any { return &r.AccountID }),
			col("property_id", func(r *myPropertyRow) any { return &r.PropertyID }),
			col("property_name", func(r *myPropertyRow) any { return &r.PropertyName }),
			col("role", func(r *myPropertyRow) any { return &r.Role }),
			col("status", func(r *myPropertyRow) any { return &r.Status }),
			col("is_owner", func(r *myPropertyRow) any { return &r.IsOwner }),
			col("joined_at", func(r *myPropertyRow) any { return &r.JoinedAt }),
			col("updated_at", func(r *myPropertyRow) any { return &r.UpdatedAt }),
		},
	}).build()
	myPropertiesNamesSpec = (&tableSpec[propertyNameRow]{
		name: "rm_my_properties_names", keyCols: []string{"property_id"},
		key: func(r *propertyNameRow) rowKey { return rowKey{a: r.PropertyID} },
		cols: []column[propertyNameRow]{
			col("property_id", func(r *propertyNameRow) any { return &r.PropertyID }),
			col("name", func(r *propertyNameRow) any { return &r.Name }),
			col("owner_id", func(r *propertyNameRow) any { return &r.OwnerID }),
		},
	}).build()
)

type myPropertiesBatch struct {
	mine  *table[myPropertyRow]
	names *table[propertyNameRow]
}

func newMyPropertiesBatch(u *unit) *myPropertiesBatch {
	return &myPropertiesBatch{mine: newTable(u, myPropertiesSpec), names: newTable(u, myPropertiesNamesSpec)}
}

func myPropertiesCreated(s *myPropertiesBatch, e recorded.Event, ev domain.PropertyCreated) error {
	s.names.Put(propertyNameRow{PropertyID: e.PropertyID, Name: ev.Name, OwnerID: ev.OwnerID})
	// At revision 0 no event of the property came before, so it has no
	// member rows to rename.
	if e.Revision > 0 {
		s.mine.UpdateProperty(e.PropertyID, func(r *myPropertyRow) bool {
			r.PropertyName, r.IsOwner = ev.Name, r.AccountID == ev.OwnerID
			return true
		})
	}
	return nil
}

func myPropertiesJoined(s *myPropertiesBatch, e recorded.Event, ev domain.MemberJoined) error {
	n, had := s.names.Get(rowKey{a: e.PropertyID})
	at := dbTime(e.At())
	s.mine.Put(myPropertyRow{AccountID: ev.AccountID, PropertyID: e.PropertyID, PropertyName: n.Name,
		Role: string(ev.Role), Status: string(domain.StatusEnabled), IsOwner: had && n.OwnerID == ev.AccountID,
		JoinedAt: at, UpdatedAt: at})
	return nil
}

func myPropertiesRoleChanged(s *myPropertiesBatch, e recorded.Event, ev domain.MemberRoleChanged) error {
	return updateMyProperty(s, e, ev.AccountID, func(r *myPropertyRow) { r.Role = string(ev.To) })
}

func myPropertiesAccessDisabled(s *myPropertiesBatch, e recorded.Event, ev domain.MemberAccessDisabled) error {
	return updateMyProperty(s, e, ev.AccountID, func(r *myPropertyRow) { r.Status = string(domain.StatusDisabled) })
}

func myPropertiesAccessEnabled(s *myPropertiesBatch, e recorded.Event, ev domain.MemberAccessEnabled) error {
	return updateMyProperty(s, e, ev.AccountID, func(r *myPropertyRow) { r.Status = string(domain.StatusEnabled) })
}

func myPropertiesAccessExpired(s *myPropertiesBatch, e recorded.Event, ev domain.MemberAccessExpired) error {
	return updateMyProperty(s, e, ev.AccountID, func(r *myPropertyRow) { r.Status = string(domain.StatusDisabled) })
}

// updateMyProperty changes one membership's row with f and stamps it.
func updateMyProperty(s *myPropertiesBatch, e recorded.Event, accountID string, f func(*myPropertyRow)) error {
	s.mine.Update(rowKey{accountID, e.PropertyID}, func(r *myPropertyRow) {
		f(r)
		r.UpdatedAt = dbTime(e.At())
	})
	return nil
}

func myPropertiesRemoved(s *myPropertiesBatch, e recorded.Event, ev domain.MemberRemoved) error {
	s.mine.Delete(rowKey{ev.AccountID, e.PropertyID})
	return nil
}

func myPropertiesLeft(s *myPropertiesBatch, e recorded.Event, ev domain.MemberLeft) error {
	s.mine.Delete(rowKey{ev.AccountID, e.PropertyID})
	return nil
}

// myPropertiesOwnershipTransferred moves the owner flag to the new owner's
// row. While the property's name row exists every flag was set from its
// owner, so only the previous owner's row and the new one's can change;
// without it (a transfer before PropertyCreated) every row of the property
// is checked.
func myPropertiesOwnershipTransferred(s *myPropertiesBatch, e recorded.Event, ev domain.OwnershipTransferred) error {
	at := dbTime(e.At())
	flag := func(r *myPropertyRow) bool {
		if want := r.AccountID == ev.To; r.IsOwner != want {
			r.IsOwner, r.UpdatedAt = want, at
			return true
		}
		return false
	}
	n, had := s.names.Get(rowKey{a: e.PropertyID})
	if !had {
		s.mine.UpdateProperty(e.PropertyID, flag)
		return nil
	}
	s.names.Update(rowKey{a: e.PropertyID}, func(r *propertyNameRow) { r.OwnerID = ev.To })
	if n.OwnerID != ev.To {
		s.mine.Update(rowKey{n.OwnerID, e.PropertyID}, func(r *myPropertyRow) { flag(r) })
		s.mine.Update(rowKey{ev.To, e.PropertyID}, func(r *myPropertyRow) { flag(r) })
	}
	return nil
}
