package httpapi

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/readmodels"
)

func (s *server) registerAuditRoutes(r routes) {
	r.handle(http.MethodGet, "/properties/{pid}/audit", s.consistent(s.audit))
}

// The media types of an audit export.
const (
	mediaCSV    = "text/csv"
	mediaNDJSON = "application/x-ndjson"
	mediaJSON   = "application/json"
)

// Export flushes: after this many rows or this long, whichever comes first,
// what is buffered goes to the client, and the write deadline moves on by
// exportWriteWindow, so a long export is bounded per flush, not in total.
const (
	exportFlushRows   = 500
	exportFlushEvery  = time.Second
	exportWriteWindow = time.Minute
)

// audit answers the property's audit trail: a JSON page by default, or the
// whole filtered trail as CSV or NDJSON when the client asks for it with
// format=csv|ndjson or an Accept header. Any enabled member may read it.
func (s *server) audit(w http.ResponseWriter, r *http.Request) {
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
	f, err := auditFilter(q)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if media != mediaJSON {
		s.longRead(w, r, func() { s.exportAudit(w, r, pid, f, media) })
		return
	}
	page, err := s.reads.Audit(r.Context(), pid, f)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

// auditFilter reads the filters of GET .../audit. type may be repeated or a
// comma-separated list. The read model checks the values; this only refuses
// a limit that is no number.
func auditFilter(q url.Values) (readmodels.AuditFilter, error) {
	f := readmodels.AuditFilter{From: q.Get("from"), To: q.Get("to"), Actor: q.Get("actor"),
		Member: q.Get("member"), Order: q.Get("order"), Cursor: q.Get("cursor")}
	for _, v := range q["type"] {
		f.Types = append(f.Types, strings.Split(v, ",")...)
	}
	limit, err := limitParam(q)
	f.Limit = limit
	return f, err
}

// auditMedia picks the answer's media type: format= when given (json, csv
// or ndjson), else the Accept range with the highest weight among JSON,
// CSV and NDJSON (the first listed on a tie), else JSON.
func auditMedia(format string, accept []string) (string, error) {
	if format != "" {
		switch strings.ToLower(strings.TrimSpace(format)) {
		case "json":
			return mediaJSON, nil
		case "csv":
			return mediaCSV, nil
		case "ndjson":
			return mediaNDJSON, nil
		}
		return "", invalidQuery("format", format, "is not one of json, csv, ndjson")
	}
	best, bestQ := mediaJSON, 0.0
	for _, header := range accept {
		for _, rng := range strings.Split(header, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(rng))
			if err != nil {
				continue
			}
			weight := 1.0
			if v, ok := params["q"]; ok {
				if weight, err = strconv.ParseFloat(v, 64); err != nil {
					continue
				}
			}
			var media string
			switch mt {
			case mediaCSV:
				media = mediaCSV
			case mediaNDJSON, "application/ndjson", "application/jsonl":
				media = mediaNDJSON
			case mediaJSON, "application/*", "*/*":
				media = mediaJSON
			default:
				continue
			}
			if weight > bestQ {
				best, bestQ = media, weight
			}
		}
	}
	return best, nil
}

// invalidQuery is the error for a query parameter that cannot be read.
func invalidQuery(field, value, why string) error {
	return &domain.Error{Kind: domain.KindInvalid, Code: domain.CodeInvalidQuery,
		Message:  field + " " + strconv.Quote(value) + " " + why,
		Problems: []domain.Problem{{Index: -1, Field: field, Value: value, Code: domain.CodeInvalidQuery, Message: why}}}
}

// exportAudit streams the whole filtered trail as CSV or NDJSON, row by row
// from the database, flushing as it goes, so its memory does not grow with
// the trail. A bad filter is still answered as a problem; an error after
// the first bytes cuts the connection, so the client cannot mistake a
// truncated export for a whole one.
func (s *server) exportAudit(w http.ResponseWriter, r *http.Request, pid string, f readmodels.AuditFilter, media string) {
	out := newAuditStream(w, media, "audit-"+pid)
	err := s.reads.EachAudit(r.Context(), pid, f, out.write)
	if err == nil {
		err = out.finish()
	}
	switch {
	case err == nil:
	case !out.started:
		writeError(w, r, err)
	default:
		if r.Context().Err() == nil {
			zerolog.Ctx(r.Context()).Error().Err(err).Str("path", r.URL.Path).Int("rows", out.rows).
				Msg("audit export failed after it started; cutting the connection")
		}
		panic(http.ErrAbortHandler)
	}
}

// auditStream writes an export to one response: headers on the first row
// (or at the end of an empty export), rows through a bounded buffer, and a
// flush every exportFlushRows rows or exportFlushEvery.
type auditStream struct {
	w        http.ResponseWriter
	rc       *http.ResponseController
	buf      *bufio.Writer
	csv      *csv.Writer
	json     *json.Encoder
	media    string
	filename string
	started  bool
	rows     int
	flushed  time.Time
}

func newAuditStream(w http.ResponseWriter, media, name string) *auditStream {
	buf := bufio.NewWriterSize(w, 32<<10)
	ext := map[string]string{mediaCSV: "csv", mediaNDJSON: "ndjson"}[media]
	return &auditStream{w: w, rc: http.NewResponseController(w), buf: buf, csv: csv.NewWriter(buf),
		json: json.NewEncoder(buf), media: media, filename: name + "." + ext, flushed: time.Now()}
}

// write sends one entry, starting the response first if need be.
func (s *auditStream) write(e readmodels.AuditEntry) error {
	if !s.started {
		if err := s.start(); err != nil {
			return err
		}
	}
	var err error
	if s.media == mediaCSV {
		err = s.writeCSV(auditRecord(e))
	} else {
		err = s.json.Encode(e)
	}
	if err != nil {
		return err
	}
	if s.rows++; s.rows%exportFlushRows == 0 || time.Since(s.flushed) >= exportFlushEvery {
		return s.flush()
	}
	return nil
}

// start writes the headers, and the CSV header row.
func (s *auditStream) start() error {
	s.started = true
	h := s.w.Header()
	if s.media == mediaCSV {
		h.Set("Content-Type", mediaCSV+"; charset=utf-8; header=present")
	} else {
		h.Set("Content-Type", mediaNDJSON)
	}
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": s.filename}))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	s.w.WriteHeader(http.StatusOK)
	if s.media == mediaCSV {
		if err := s.writeCSV(auditCSVHeader); err != nil {
			return err
		}
	}
	return s.flush()
}

func (s *auditStream) writeCSV(record []string) error {
	if err := s.csv.Write(csvSafe(record)); err != nil {
		return err
	}
	s.csv.Flush() // into buf, which reaches the client when full or flushed
	return s.csv.Error()
}

// flush sends what is buffered and gives the connection another
// exportWriteWindow to take the next part.
func (s *auditStream) flush() error {
	s.flushed = time.Now()
	if err := s.buf.Flush(); err != nil {
		return err
	}
	if err := s.rc.SetWriteDeadline(time.Now().Add(exportWriteWindow)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	if err := s.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

// finish ends a successful export: an empty one still gets its headers.
func (s *auditStream) finish() error {
	if !s.started {
		if err := s.start(); err != nil {
			return err
		}
	}
	return s.flush()
}

// auditCSVHeader names the columns of auditRecord.
var auditCSVHeader = []string{"occurred_at", "type", "revision", "position", "event_id",
	"actor_id", "actor_email", "actor_ip", "actor_user_agent", "subject_kind", "subject_id", "subject_email",
	"change_field", "change_from", "change_to", "correlation_id", "causation_id", "command_id"}

// auditRecord is one CSV row of the audit trail; encoding/csv quotes it.
func auditRecord(e readmodels.AuditEntry) []string {
	var c readmodels.AuditChange
	if e.Change != nil {
		c = *e.Change
	}
	return []string{e.OccurredAt.UTC().Format(time.RFC3339Nano), e.Type, strconv.FormatUint(e.Revision, 10), e.Position, e.EventID,
		e.Actor.AccountID, e.Actor.Email, e.Actor.IP, e.Actor.UserAgent, e.Subject.Kind, e.Subject.ID, e.Subject.Email,
		c.Field, c.From, c.To, e.CorrelationID, e.CausationID, e.CommandID}
}

// csvSafe returns record with the cells a spreadsheet would run as a
// formula ("CSV injection", OWASP) defused: a cell starting with =, +, -,
// @, a tab or a carriage return gets a leading apostrophe, which
// spreadsheets show as text and never evaluate. Emails, names and user
// agents in an export come from outside, so every CSV export writes its
// records through this. record itself is left as it is.
func csvSafe(record []string) []string {
	out, copied := record, false
	for i, cell := range record {
		if cell == "" || !strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
			continue
		}
		if !copied {
			out, copied = slices.Clone(record), true
		}
		out[i] = "'" + cell
	}
	return out
}
