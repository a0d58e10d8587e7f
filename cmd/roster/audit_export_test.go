package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// rawGet is a GET as u that waits for pos and returns the answer unparsed:
// an export is no JSON object. Like read, it asks again while the answer
// is stale.
func rawGet(t *testing.T, app *testApp, path string, u user, pos string, headers map[string]string) (*http.Response, []byte) {
	t.Helper()
	var (
		resp *http.Response
		body []byte
	)
	untilFresh(t, path, pos, func() http.Header {
		req, err := http.NewRequest(http.MethodGet, app.base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+u.Token)
		req.Header.Set("Roster-Min-Position", pos)
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		if resp, err = app.http.Do(req); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		if body, err = io.ReadAll(resp.Body); err != nil {
			t.Fatalf("GET %s: read body: %v", path, err)
		}
		return resp.Header
	})
	return resp, body
}

// csvRecord is an audit entry as a CSV export writes it.
func csvRecord(e auditView) []string {
	var c changeView
	if e.Change != nil {
		c = *e.Change
	}
	return []string{e.OccurredAt, e.Type, strconv.FormatUint(e.Revision, 10), e.Position, e.EventID,
		e.Actor.AccountID, e.Actor.Email, e.Actor.IP, e.Actor.UserAgent, e.Subject.Kind, e.Subject.ID, e.Subject.Email,
		c.Field, c.From, c.To, e.CorrelationID, e.CausationID, e.CommandID}
}

var csvHeader = []string{"occurred_at", "type", "revision", "position", "event_id", "actor_id", "actor_email",
	"actor_ip", "actor_user_agent", "subject_kind", "subject_id", "subject_email", "change_field", "change_from",
	"change_to", "correlation_id", "causation_id", "command_id"}

// TestAuditExportsCSVAndNDJSON: GET .../audit answers CSV or NDJSON when
// asked by Accept or format=, holding the same entries as the JSON pages,
// with the filters applied and no paging.
func TestAuditExportsCSVAndNDJSON(t *testing.T) {
	t.Parallel()
	tm := newAuditedTeam(t)
	p := "/v1/properties/" + tm.pid + "/audit"
	all := tm.audit(t, tm.owner, "").Entries
	joins := tm.audit(t, tm.owner, "type=MemberJoined").Entries
	bobDesc := tm.audit(t, tm.owner, "member="+tm.bob.ID+"&order=desc").Entries
	tests := []struct {
		name    string
		query   string
		accept  string
		wantCT  string
		entries []auditView
	}{
		{"Accept text/csv exports CSV", "", "text/csv", "text/csv; charset=utf-8; header=present", all},
		{"format=csv exports CSV whatever Accept says", "format=csv", "application/json", "text/csv; charset=utf-8; header=present", all},
		{"a CSV export keeps the filters", "format=csv&type=MemberJoined", "", "text/csv; charset=utf-8; header=present", joins},
		{"Accept application/x-ndjson exports NDJSON", "", "application/x-ndjson", "application/x-ndjson", all},
		{"format=ndjson exports NDJSON", "format=ndjson", "", "application/x-ndjson", all},
		{"an NDJSON export keeps the filters and order", "format=ndjson&member=" + tm.bob.ID + "&order=desc", "", "application/x-ndjson", bobDesc},
		{"an export is not paged", "format=ndjson&limit=1", "", "application/x-ndjson", all},
		{"the preferred of several Accept ranges wins", "", "application/json;q=0.5, text/csv", "text/csv; charset=utf-8; header=present", all},
		{"an export no filter matches is the header alone", "format=csv&actor=nobody", "", "text/csv; charset=utf-8; header=present", []auditView{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := rawGet(t, tm.app, p+"?"+tt.query, tm.owner, tm.pos, map[string]string{"Accept": tt.accept})
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != tt.wantCT {
				t.Fatalf("answer %d %q, want 200 %q; body: %s", resp.StatusCode, resp.Header.Get("Content-Type"), tt.wantCT, body)
			}
			if cd := resp.Header.Get("Content-Disposition"); cd == "" {
				t.Error("no Content-Disposition: an export should download as a file")
			}
			if tt.wantCT == "application/x-ndjson" {
				checkNDJSON(t, body, tt.entries)
			} else {
				checkCSV(t, body, tt.entries)
			}
		})
	}
	t.Run("Accept preferring JSON gets a JSON page", func(t *testing.T) {
		resp, body := rawGet(t, tm.app, p, tm.owner, tm.pos, map[string]string{"Accept": "text/csv;q=0.2, application/json"})
		var page auditPageView
		if err := json.Unmarshal(body, &page); err != nil || resp.Header.Get("Content-Type") != "application/json" || len(page.Entries) != len(all) {
			t.Errorf("answer %q with %d entries (%v), want a JSON page of %d", resp.Header.Get("Content-Type"), len(page.Entries), err, len(all))
		}
	})
}

// checkCSV parses a CSV export and compares it with entries.
func checkCSV(t *testing.T, body []byte, entries []auditView) {
	t.Helper()
	records, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("the export is not CSV: %v\n%s", err, body)
	}
	want := [][]string{csvHeader}
	for _, e := range entries {
		want = append(want, csvRecord(e))
	}
	if diff := cmp.Diff(want, records); diff != "" {
		t.Errorf("CSV records (-want +got):\n%s", diff)
	}
}

// checkNDJSON reads an NDJSON export line by line and compares it with entries.
func checkNDJSON(t *testing.T, body []byte, entries []auditView) {
	t.Helper()
	got := []auditView{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		var e auditView
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			t.Fatalf("line %d is not an audit entry: %v\n%s", len(got)+1, err, sc.Bytes())
		}
		got = append(got, e)
	}
	if diff := cmp.Diff(entries, got); diff != "" {
		t.Errorf("NDJSON entries (-want +got):\n%s", diff)
	}
}
