package httpapi

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore/memory"
	"github.com/rosterhq/roster/infra/pgtest"
	"github.com/rosterhq/roster/projections"
	pt "github.com/rosterhq/roster/projections/projectiontest"
	"github.com/rosterhq/roster/readmodels"
)

// reviewNow is the clock of the review tests: an hour after the script
// began, so Dee's invitation (sent at step 15) is still out.
var reviewNow = pt.At(60)

// injectionEmail is an invitee whose address a spreadsheet would run as a
// formula, were it not defused.
const injectionEmail = "=sum@example.com"

// pastAPI is the API over real read models and a real History: the script
// of projectiontest, plus an invitation to injectionEmail (step 26), in a
// memory event store projected into a fresh database. The bearer token is
// the caller's account ID. withHistory false leaves Config.History unset.
func pastAPI(t *testing.T, withHistory bool) http.Handler {
	t.Helper()
	pool := pgtest.NewPool(t)
	store := memory.New()
	pt.Start(t, pool, store, zerolog.Nop(), projections.All()...)
	pos := pt.NewHistory(t, store).Add(append(pt.Script(), pt.Step{PropertyID: pt.Acme, ActorID: pt.Ann, ActorEmail: pt.AnnEmail,
		Event: domain.MemberInvited{Schema: 1, InvitationID: "inv-sum", Email: injectionEmail, Role: domain.RoleAgent,
			InvitedBy: pt.Ann, ExpiresAt: pt.At(26).Add(pt.InviteTTL), TokenNonce: "nonce-sum"}})...)
	reads := readmodels.New(pool)
	if ok, err := reads.WaitFor(context.Background(), pos, time.Minute); err != nil || !ok {
		t.Fatalf("the read models did not reach %s: %v", pos, err)
	}
	clock := func() time.Time { return reviewNow }
	c := Config{Log: zerolog.Nop(), Reads: reads, Now: clock,
		Authenticate: func(_ context.Context, raw string) (domain.Actor, error) {
			return domain.Actor{AccountID: raw, EmailVerified: true}, nil
		}}
	if withHistory {
		c.History = readmodels.NewHistory(readmodels.HistoryConfig{Events: store, Now: clock})
	}
	return New(c)
}

// get sends GET path as account, with headers as name, value pairs.
func get(api http.Handler, account, path string, headers ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	r.Header.Set("Authorization", "Bearer "+account)
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	api.ServeHTTP(w, r)
	return w
}

// wantProblem checks a problem answer's status and code, and that its
// errors name field when field is given.
func wantProblem(t *testing.T, w *httptest.ResponseRecorder, status int, code, field string) {
	t.Helper()
	var p problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || w.Code != status || p.Code != code {
		t.Fatalf("answer %d %s, want %d %s", w.Code, strings.TrimSpace(w.Body.String()), status, code)
	}
	if field != "" && (len(p.Errors) != 1 || p.Errors[0].Field != field) {
		t.Errorf("errors %+v, want one naming %s", p.Errors, field)
	}
}

func asOfQuery(at time.Time) string { return "as_of=" + url.QueryEscape(at.Format(time.RFC3339Nano)) }

func TestAsOfOnMembersAndPermissions(t *testing.T) {
	t.Parallel()
	api := pastAPI(t, true)
	acme := "/v1/properties/" + pt.Acme
	member := func(acc, email string, role domain.Role, status domain.MemberStatus, owner bool, joined, updated int) readmodels.Member {
		return readmodels.Member{AccountID: acc, Email: email, Role: role, Status: status, Owner: owner,
			JoinedAt: pt.At(joined), UpdatedAt: pt.At(updated)}
	}
	pages := []struct {
		name, path string
		want       readmodels.MemberPageAsOf
	}{
		{"the members at a moment, with the moment", acme + "/members?" + asOfQuery(pt.At(5)), readmodels.MemberPageAsOf{AsOf: pt.At(5),
			MemberPage: readmodels.MemberPage{Members: []readmodels.Member{
				member(pt.Ann, pt.AnnEmail, domain.RoleAgent, domain.StatusEnabled, false, 5, 5),
				member(pt.Owner, pt.OwnerEmail, domain.RoleAdmin, domain.StatusEnabled, true, 1, 1)}}}},
		{"filters apply to the past as to today", acme + "/members?role=admin&" + asOfQuery(pt.At(5)), readmodels.MemberPageAsOf{AsOf: pt.At(5),
			MemberPage: readmodels.MemberPage{Members: []readmodels.Member{
				member(pt.Owner, pt.OwnerEmail, domain.RoleAdmin, domain.StatusEnabled, true, 1, 1)}}}},
		{"a moment in another zone is the same instant", acme + "/members?as_of=" + url.QueryEscape("2026-03-02T10:12:00+01:00"),
			readmodels.MemberPageAsOf{AsOf: pt.At(12), MemberPage: readmodels.MemberPage{Members: []readmodels.Member{
				member(pt.Ann, pt.AnnEmail, domain.RoleAdmin, domain.StatusEnabled, false, 5, 9),
				member(pt.Cat, pt.CatEmail, domain.RoleAgent, domain.StatusEnabled, false, 12, 12),
				member(pt.Owner, pt.OwnerEmail, domain.RoleAdmin, domain.StatusEnabled, true, 1, 1)}}}},
	}
	for _, tt := range pages {
		t.Run(tt.name, func(t *testing.T) {
			w := get(api, pt.Ann, tt.path)
			var got readmodels.MemberPageAsOf
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || w.Code != http.StatusOK {
				t.Fatalf("answer %d %s, want 200", w.Code, w.Body)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("page (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("without as_of the answer is today's, without as_of", func(t *testing.T) {
		w := get(api, pt.Ann, acme+"/members")
		if w.Code != http.StatusOK || strings.Contains(w.Body.String(), "as_of") || !strings.Contains(w.Body.String(), pt.AnnEmail) {
			t.Errorf("answer %d %s, want today's page", w.Code, w.Body)
		}
	})
	t.Run("permissions at a moment when the member was disabled are none", func(t *testing.T) {
		w := get(api, pt.Owner, acme+"/members/"+pt.Ann+"/permissions?"+asOfQuery(pt.At(8)))
		var got readmodels.AccessAsOf
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || w.Code != http.StatusOK {
			t.Fatalf("answer %d %s, want 200", w.Code, w.Body)
		}
		want := readmodels.AccessAsOf{AsOf: pt.At(8), Access: readmodels.Access{PropertyID: pt.Acme, AccountID: pt.Ann,
			Role: domain.RoleAdmin, Status: domain.StatusDisabled, Permissions: []domain.Permission{}, UpdatedAt: pt.At(8)}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("access (-want +got):\n%s", diff)
		}
	})

	refusals := []struct {
		name, caller, path string
		status             int
		code, field        string
	}{
		{"an unreadable as_of is refused by name", pt.Ann, acme + "/members?as_of=yesterday",
			http.StatusUnprocessableEntity, domain.CodeInvalidQuery, "as_of"},
		{"an empty as_of is refused by name", pt.Ann, acme + "/members?as_of=",
			http.StatusUnprocessableEntity, domain.CodeInvalidQuery, "as_of"},
		{"a date without a time is refused", pt.Ann, acme + "/members?as_of=2026-03-02",
			http.StatusUnprocessableEntity, domain.CodeInvalidQuery, "as_of"},
		{"a moment in the future is refused by name", pt.Ann, acme + "/members?" + asOfQuery(reviewNow.Add(time.Second)),
			http.StatusUnprocessableEntity, domain.CodeInvalidQuery, "as_of"},
		{"a bad filter is refused in the past too", pt.Ann, acme + "/members?status=gone&" + asOfQuery(pt.At(5)),
			http.StatusUnprocessableEntity, domain.CodeInvalidRequest, "status"},
		{"before the property existed there was no property", pt.Ann, acme + "/members?" + asOfQuery(pt.T0.Add(-time.Minute)),
			http.StatusNotFound, domain.CodePropertyNotFound, ""},
		{"a non-member is told nothing, whatever the moment", pt.Other, acme + "/members?" + asOfQuery(pt.At(5)),
			http.StatusNotFound, domain.CodePropertyNotFound, ""},
		{"a former member is told nothing, even of its own time", pt.Cat, acme + "/members?" + asOfQuery(pt.At(12)),
			http.StatusNotFound, domain.CodePropertyNotFound, ""},
		{"a non-member learns nothing from a bad as_of either", pt.Other, acme + "/members?as_of=yesterday",
			http.StatusNotFound, domain.CodePropertyNotFound, ""},
		{"an account that was no member then has no permissions then", pt.Ann, acme + "/members/" + pt.Cat + "/permissions?" + asOfQuery(pt.At(13)),
			http.StatusNotFound, domain.CodeMemberNotFound, ""},
		{"permissions refuse an unreadable as_of", pt.Ann, acme + "/members/" + pt.Ann + "/permissions?as_of=9am",
			http.StatusUnprocessableEntity, domain.CodeInvalidQuery, "as_of"},
		{"permissions refuse a moment in the future", pt.Ann, acme + "/members/" + pt.Ann + "/permissions?" + asOfQuery(reviewNow.Add(time.Hour)),
			http.StatusUnprocessableEntity, domain.CodeInvalidQuery, "as_of"},
		{"permissions in the past are for members only", pt.Other, acme + "/members/" + pt.Ann + "/permissions?" + asOfQuery(pt.At(5)),
			http.StatusNotFound, domain.CodePropertyNotFound, ""},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			wantProblem(t, get(api, tt.caller, tt.path), tt.status, tt.code, tt.field)
		})
	}
}

// reviewCSVRows reads a CSV answer into rows keyed by email.
func reviewCSVRows(t *testing.T, w *httptest.ResponseRecorder) ([]string, map[string][]string) {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(w.Body.String())).ReadAll()
	if err != nil || len(recs) == 0 {
		t.Fatalf("CSV %q: %v", w.Body, err)
	}
	rows := map[string][]string{}
	for _, r := range recs[1:] {
		rows[r[2]] = r
	}
	return recs[0], rows
}

func TestAccessReviewRoute(t *testing.T) {
	t.Parallel()
	api := pastAPI(t, true)
	path := "/v1/properties/" + pt.Acme + "/access-review"
	owner := readmodels.ReviewActor{AccountID: pt.Owner, Email: pt.OwnerEmail}
	ann := readmodels.ReviewActor{AccountID: pt.Ann, Email: pt.AnnEmail}

	t.Run("JSON by default: members with how they came in, and the invitations still out", func(t *testing.T) {
		w := get(api, pt.Ann, path)
		var got readmodels.AccessReview
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || w.Code != http.StatusOK ||
			w.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("answer %d %q %s, want 200 JSON", w.Code, w.Header().Get("Content-Type"), w.Body)
		}
		want := readmodels.AccessReview{PropertyID: pt.Acme, PropertyName: "Acme", Revision: 21, AsOf: reviewNow,
			Members: []readmodels.ReviewMember{
				{AccountID: pt.Ann, Email: pt.AnnEmail, Role: domain.RoleAdmin, Status: domain.StatusEnabled, Owner: true,
					JoinedAt:         pt.At(5),
					Invitation:       &readmodels.ReviewInvitation{ID: pt.InvAnn, InvitedBy: owner, InvitedAt: pt.At(2)},
					LastAccessChange: &readmodels.AccessChange{Type: domain.TypeOwnershipTransferred, By: owner, At: pt.At(14)}},
				{AccountID: pt.Owner, Email: pt.OwnerEmail, Role: domain.RoleAdmin, Status: domain.StatusEnabled, JoinedAt: pt.At(1),
					LastAccessChange: &readmodels.AccessChange{Type: domain.TypeOwnershipTransferred, By: owner, At: pt.At(14)}}},
			PendingInvitations: []readmodels.PendingInvitation{
				{ID: pt.InvDee, Email: pt.DeeEmail, Role: domain.RoleAgent, InvitedBy: ann, InvitedAt: pt.At(15),
					ExpiresAt: pt.At(16).Add(2 * pt.InviteTTL), AgeSeconds: 45 * 60},
				{ID: "inv-sum", Email: injectionEmail, Role: domain.RoleAgent, InvitedBy: ann, InvitedAt: pt.At(26),
					ExpiresAt: pt.At(26).Add(pt.InviteTTL), AgeSeconds: 34 * 60}}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("review (-want +got):\n%s", diff)
		}
	})

	t.Run("as_of reviews a past moment", func(t *testing.T) {
		w := get(api, pt.Ann, path+"?"+asOfQuery(pt.At(3)))
		var got readmodels.AccessReview
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || w.Code != http.StatusOK {
			t.Fatalf("answer %d %s, want 200", w.Code, w.Body)
		}
		var pending []string
		for _, inv := range got.PendingInvitations {
			pending = append(pending, inv.Email)
		}
		if !got.AsOf.Equal(pt.At(3)) || len(got.Members) != 1 || !slices.Equal(pending, []string{pt.AnnEmail, pt.BobEmail}) {
			t.Errorf("review at step 3: as_of %s, %d members, pending %v; want the owner alone and Ann's and Bob's invitations",
				got.AsOf, len(got.Members), pending)
		}
	})

	csvAsks := []struct {
		name    string
		query   string
		headers []string
	}{
		{"format=csv is CSV", "?format=CSV", nil},
		{"Accept text/csv is CSV", "", []string{"Accept", "application/json;q=0.5, text/csv"}},
	}
	for _, tt := range csvAsks {
		t.Run(tt.name+", one row per member then per invitation, formulas defused", func(t *testing.T) {
			w := get(api, pt.Ann, path+tt.query, tt.headers...)
			if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "text/csv; charset=utf-8; header=present" {
				t.Fatalf("answer %d %q, want 200 CSV: %s", w.Code, w.Header().Get("Content-Type"), w.Body)
			}
			if cd := w.Header().Get("Content-Disposition"); cd != `attachment; filename=access-review-p-acme-20260302T100000Z.csv` {
				t.Errorf("Content-Disposition %q", cd)
			}
			if w.Header().Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("X-Content-Type-Options %q, want nosniff", w.Header().Get("X-Content-Type-Options"))
			}
			header, rows := reviewCSVRows(t, w)
			if diff := cmp.Diff(reviewCSVHeader, header); diff != "" {
				t.Errorf("header (-want +got):\n%s", diff)
			}
			want := map[string][]string{
				pt.AnnEmail: {"member", pt.Ann, pt.AnnEmail, "admin", "enabled", "true", "2026-03-02T09:05:00Z",
					pt.InvAnn, pt.Owner, pt.OwnerEmail, "2026-03-02T09:02:00Z",
					domain.TypeOwnershipTransferred, pt.Owner, pt.OwnerEmail, "2026-03-02T09:14:00Z", "", "", ""},
				pt.OwnerEmail: {"member", pt.Owner, pt.OwnerEmail, "admin", "enabled", "false", "2026-03-02T09:01:00Z",
					"", "", "", "", domain.TypeOwnershipTransferred, pt.Owner, pt.OwnerEmail, "2026-03-02T09:14:00Z", "", "", ""},
				pt.DeeEmail: {"pending_invitation", "", pt.DeeEmail, "agent", "pending", "", "", pt.InvDee, pt.Ann, pt.AnnEmail,
					"2026-03-02T09:15:00Z", "", "", "", "", "2026-03-16T09:16:00Z", "2700", "45m"},
				"'" + injectionEmail: {"pending_invitation", "", "'" + injectionEmail, "agent", "pending", "", "", "inv-sum",
					pt.Ann, pt.AnnEmail, "2026-03-02T09:26:00Z", "", "", "", "", "2026-03-09T09:26:00Z", "2040", "34m"},
			}
			if diff := cmp.Diff(want, rows); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("Accept preferring NDJSON, which the review does not offer, is JSON", func(t *testing.T) {
		w := get(api, pt.Ann, path, "Accept", "application/x-ndjson")
		if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json" {
			t.Errorf("answer %d %q, want 200 JSON", w.Code, w.Header().Get("Content-Type"))
		}
	})

	refusals := []struct {
		name, caller, query string
		status              int
		code, field         string
	}{
		{"format=ndjson is refused by name", pt.Ann, "?format=ndjson", http.StatusUnprocessableEntity, domain.CodeInvalidQuery, "format"},
		{"an unknown format is refused by name", pt.Ann, "?format=xlsx", http.StatusUnprocessableEntity, domain.CodeInvalidQuery, "format"},
		{"an unreadable as_of is refused by name", pt.Ann, "?as_of=now", http.StatusUnprocessableEntity, domain.CodeInvalidQuery, "as_of"},
		{"a future as_of is refused by name", pt.Ann, "?format=csv&" + asOfQuery(reviewNow.Add(time.Minute)),
			http.StatusUnprocessableEntity, domain.CodeInvalidQuery, "as_of"},
		{"before the property there is nothing to review", pt.Ann, "?" + asOfQuery(pt.T0.Add(-time.Second)),
			http.StatusNotFound, domain.CodePropertyNotFound, ""},
		{"a non-member is told nothing", pt.Other, "", http.StatusNotFound, domain.CodePropertyNotFound, ""},
		{"a non-member is told nothing in CSV either", pt.Fay, "?format=csv", http.StatusNotFound, domain.CodePropertyNotFound, ""},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			w := get(api, tt.caller, path+tt.query)
			wantProblem(t, w, tt.status, tt.code, tt.field)
			if w.Header().Get("Content-Disposition") != "" {
				t.Errorf("a refusal came as an attachment")
			}
		})
	}
}

// TestAuditExportDefusesFormulas: the audit export writes through the same
// guard as the review.
func TestAuditExportDefusesFormulas(t *testing.T) {
	t.Parallel()
	api := pastAPI(t, true)
	w := get(api, pt.Ann, "/v1/properties/"+pt.Acme+"/audit?format=csv&type=MemberInvited")
	recs, err := csv.NewReader(strings.NewReader(w.Body.String())).ReadAll()
	if err != nil || w.Code != http.StatusOK {
		t.Fatalf("answer %d %s: %v", w.Code, w.Body, err)
	}
	emails := map[string]bool{}
	for _, r := range recs[1:] {
		emails[r[slices.Index(auditCSVHeader, "subject_email")]] = true
	}
	if !emails["'"+injectionEmail] || emails[injectionEmail] {
		t.Errorf("subject emails %v, want %q defused", emails, injectionEmail)
	}
}

func TestAsOfWithoutAHistoryIsOurFault(t *testing.T) {
	t.Parallel()
	api := pastAPI(t, false)
	for _, path := range []string{
		"/v1/properties/" + pt.Acme + "/members?" + asOfQuery(pt.At(5)),
		"/v1/properties/" + pt.Acme + "/members/" + pt.Ann + "/permissions?" + asOfQuery(pt.At(5)),
		"/v1/properties/" + pt.Acme + "/access-review",
		"/v1/properties/" + pt.Acme + "/access-review?format=csv",
	} {
		wantProblem(t, get(api, pt.Ann, path), http.StatusInternalServerError, domain.CodeInternal, "")
	}
	if w := get(api, pt.Ann, "/v1/properties/"+pt.Acme+"/members"); w.Code != http.StatusOK {
		t.Errorf("today's members answer %d without a history, want 200", w.Code)
	}
}

func TestCSVSafeDefusesFormulas(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"a formula gets an apostrophe", []string{"=HYPERLINK(\"x\")"}, []string{"'=HYPERLINK(\"x\")"}},
		{"so do plus, minus and at", []string{"+1", "-2+3", "@SUM(A1)"}, []string{"'+1", "'-2+3", "'@SUM(A1)"}},
		{"so do a leading tab and carriage return", []string{"\t=1", "\r=1"}, []string{"'\t=1", "'\r=1"}},
		{"other cells are left alone", []string{"", "a=b", "ann@example.com", "2026-03-02T09:00:00Z", "'=1"},
			[]string{"", "a=b", "ann@example.com", "2026-03-02T09:00:00Z", "'=1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.in)
			if diff := cmp.Diff(tt.want, csvSafe(in)); diff != "" {
				t.Errorf("csvSafe (-want +got):\n%s", diff)
			}
			if !slices.Equal(in, tt.in) {
				t.Errorf("csvSafe changed its argument to %q", in)
			}
		})
	}
}

func TestHumanAge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		seconds int64
		want    string
	}{
		{0, "0s"}, {59, "59s"}, {60, "1m"}, {61, "1m 1s"}, {3600, "1h"}, {3660, "1h 1m"}, {3601, "1h"},
		{86400, "1d"}, {90061, "1d 1h"}, {86400 + 300, "1d"}, {14 * 86400, "14d"},
	}
	for _, tt := range tests {
		if got := humanAge(tt.seconds); got != tt.want {
			t.Errorf("humanAge(%d) = %q, want %q", tt.seconds, got, tt.want)
		}
	}
}
