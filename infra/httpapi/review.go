package httpapi

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rosterhq/roster/readmodels"
)

// HistoryReader answers queries about a property at a past moment, from
// its events rather than the read models.
type HistoryReader interface {
	Members(ctx context.Context, propertyID string, at time.Time, f readmodels.MemberFilter) (readmodels.MemberPageAsOf, error)
	Access(ctx context.Context, propertyID, accountID string, at time.Time) (readmodels.AccessAsOf, error)
	Review(ctx context.Context, propertyID string, at time.Time) (readmodels.AccessReview, error)
}

func (s *server) registerReviewRoutes(r routes) {
	r.handle(http.MethodGet, "/properties/{pid}/access-review", s.consistent(s.accessReview))
}

// asOfParam reads the as_of query parameter: nil when it is absent. A
// present but empty or unreadable one is refused by name.
func asOfParam(q url.Values) (*time.Time, error) {
	if !q.Has(readmodels.AsOfParam) {
		return nil, nil
	}
	at, err := readmodels.ParseAsOf(q.Get(readmodels.AsOfParam))
	if err != nil {
		return nil, err
	}
	return &at, nil
}

// errNoHistory is the fault of a server built without a history reader.
var errNoHistory = errors.New("as_of and the access review need a history reader; httpapi.Config.History is not set")

// answerAsOf answers a query asked with as_of from the history reader, as
// one long read (see LongReadLimits): it folds a property's events. The
// caller has checked that the caller may read the property.
func (s *server) answerAsOf(w http.ResponseWriter, r *http.Request, ask func(HistoryReader) (any, error)) {
	if s.history == nil {
		writeError(w, r, errNoHistory)
		return
	}
	s.longRead(w, r, func() {
		v, err := ask(s.history)
		if err != nil {
			writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, v)
	})
}

// accessReview answers who has access to the property and how they got it,
// and which invitations could still be accepted: JSON by default, CSV with
// format=csv or an Accept header preferring text/csv, negotiated as the
// audit export is. as_of reviews a past moment instead of now. Any enabled
// member may read it, as they may read the members and the audit trail;
// it is a long read (see LongReadLimits), now as much as in the past.
func (s *server) accessReview(w http.ResponseWriter, r *http.Request) {
	pid := vars(r)["pid"]
	if err := s.canRead(r, pid); err != nil {
		writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	media, err := auditMedia(q.Get("format"), r.Header.Values("Accept"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	if media == mediaNDJSON {
		// The review is two lists under one header, not a stream of rows.
		if q.Has("format") {
			writeError(w, r, invalidQuery("format", q.Get("format"), "is not one of json, csv"))
			return
		}
		media = mediaJSON
	}
	at := s.now().UTC()
	past, err := asOfParam(q)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if past != nil {
		at = *past
	}
	if s.history == nil {
		writeError(w, r, errNoHistory)
		return
	}
	s.longRead(w, r, func() { s.writeReview(w, r, pid, at, media) })
}

// writeReview answers the review of pid at at in media, JSON or CSV.
func (s *server) writeReview(w http.ResponseWriter, r *http.Request, pid string, at time.Time, media string) {
	review, err := s.history.Review(r.Context(), pid, at)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if media == mediaJSON {
		writeJSON(w, http.StatusOK, review)
		return
	}
	body, err := reviewCSV(review)
	if err != nil {
		writeError(w, r, err)
		return
	}
	name := fmt.Sprintf("access-review-%s-%s.csv", pid, review.AsOf.UTC().Format("20060102T150405Z"))
	h := w.Header()
	h.Set("Content-Type", mediaCSV+"; charset=utf-8; header=present")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// reviewCSVHeader names the columns of the review's CSV. A row is a member
// or a pending invitation, as its first column says; the columns that do
// not apply to it are empty.
var reviewCSVHeader = []string{"record", "account_id", "email", "role", "status", "owner", "joined_at",
	"invitation_id", "invited_by_id", "invited_by_email", "invited_at",
	"last_change_type", "last_change_by_id", "last_change_by_email", "last_change_at",
	"expires_at", "age_seconds", "age"}

// reviewCSV writes the whole review before anything is sent: it is small,
// and an error then is still answered as a problem.
func reviewCSV(rv readmodels.AccessReview) ([]byte, error) {
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	stamp := func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
	rows := [][]string{reviewCSVHeader}
	for _, m := range rv.Members {
		row := []string{"member", m.AccountID, m.Email, string(m.Role), string(m.Status), strconv.FormatBool(m.Owner),
			stamp(m.JoinedAt), "", "", "", "", "", "", "", "", "", "", ""}
		if inv := m.Invitation; inv != nil {
			copy(row[7:11], []string{inv.ID, inv.InvitedBy.AccountID, inv.InvitedBy.Email, stamp(inv.InvitedAt)})
		}
		if c := m.LastAccessChange; c != nil {
			copy(row[11:15], []string{c.Type, c.By.AccountID, c.By.Email, stamp(c.At)})
		}
		rows = append(rows, row)
	}
	for _, inv := range rv.PendingInvitations {
		rows = append(rows, []string{"pending_invitation", "", inv.Email, string(inv.Role), "pending", "", "",
			inv.ID, inv.InvitedBy.AccountID, inv.InvitedBy.Email, stamp(inv.InvitedAt), "", "", "", "",
			stamp(inv.ExpiresAt), strconv.FormatInt(inv.AgeSeconds, 10), humanAge(inv.AgeSeconds)})
	}
	for _, row := range rows {
		if err := cw.Write(csvSafe(row)); err != nil {
			return nil, err
		}
	}
	cw.Flush()
	return buf.Bytes(), cw.Error()
}

// humanAge says how old something is in its two largest units, for a
// person reading the CSV: "3d 4h", "25m", "59s".
func humanAge(seconds int64) string {
	units := []struct {
		size int64
		name string
	}{{86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}}
	var parts []string
	for _, u := range units {
		if n := seconds / u.size; n > 0 && len(parts) < 2 {
			parts = append(parts, strconv.FormatInt(n, 10)+u.name)
			seconds -= n * u.size
		} else if len(parts) > 0 {
			// A gap ends the phrase: "1d 5m" would read as more precise than it is.
			break
		}
	}
	if len(parts) == 0 {
		return "0s"
	}
	return strings.Join(parts, " ")
}
