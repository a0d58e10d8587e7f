package httpapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"github.com/rosterhq/roster/commands"
	"github.com/rosterhq/roster/domain"
)

// commandResponse is what every command answers, plus fields of its own.
type commandResponse struct {
	PropertyID string `json:"property_id"`
	Revision   uint64 `json:"revision"`
	Position   string `json:"position"`
	// Changed is false when the command found nothing to change (for
	// example disabling a member already disabled).
	Changed bool `json:"changed"`
	// Repeated is true when the answer is that of an earlier request with
	// the same Idempotency-Key.
	Repeated bool `json:"repeated,omitempty"`
}

func newCommandResponse(res commands.Result) commandResponse {
	return commandResponse{PropertyID: res.PropertyID, Revision: res.Revision, Position: res.Position.String(),
		Changed: len(res.Events) > 0, Repeated: res.Repeated}
}

// writeResult answers a command: the body, the new revision as ETag, and
// the position a query may send back in Roster-Min-Position.
func writeResult(w http.ResponseWriter, status int, res commands.Result, body any) {
	w.Header().Set("ETag", strconv.Quote(strconv.FormatUint(res.Revision, 10)))
	w.Header().Set("Roster-Position", res.Position.String())
	writeJSON(w, status, body)
}

// maxIdempotencyKey bounds the Idempotency-Key header.
const maxIdempotencyKey = 200

// commandMeta reads what every command carries from the request: the actor,
// the request ID, the client, the idempotency key and If-Match.
func commandMeta(r *http.Request, body []byte) (commands.Meta, error) {
	m := commands.Meta{Actor: actorOf(r.Context()), CorrelationID: requestID(r.Context()),
		ClientIP: clientIP(r), UserAgent: userAgent(r)}
	if key := r.Header.Get("Idempotency-Key"); key != "" {
		if len(key) > maxIdempotencyKey || strings.IndexFunc(key, func(c rune) bool { return c < 0x21 || c > 0x7e }) >= 0 {
			return m, domain.Errorf(domain.KindMalformed, domain.CodeInvalidHeader,
				"Idempotency-Key must be 1 to %d visible ASCII characters", maxIdempotencyKey)
		}
		m.IdempotencyKey = key
		sum := sha256.Sum256([]byte(r.Method + " " + r.URL.Path + "\n" + string(body)))
		m.RequestHash = hex.EncodeToString(sum[:])
	}
	if im := strings.TrimSpace(r.Header.Get("If-Match")); im != "" && im != "*" {
		if strings.HasPrefix(im, "W/") {
			// If-Match compares strongly (RFC 9110 13.1.1): a weak tag never matches.
			return m, domain.Errorf(domain.KindPrecondition, domain.CodeStaleRevision,
				"If-Match %q is a weak ETag, which never matches; send the ETag as given", im)
		}
		rev, err := strconv.ParseUint(strings.Trim(im, `"`), 10, 64)
		if err != nil {
			return m, domain.Errorf(domain.KindMalformed, domain.CodeInvalidHeader,
				"If-Match %q is not a revision as the ETag gives it", im)
		}
		m.IfMatch = &rev
	}
	return m, nil
}

// readCommand reads the body (into v unless v is nil) and the command's meta.
func readCommand(w http.ResponseWriter, r *http.Request, v any) (commands.Meta, error) {
	return readCommandUpTo(w, r, v, maxBodyBytes)
}

// readCommandUpTo is readCommand for a route whose body may be larger
// than most, up to limit bytes.
func readCommandUpTo(w http.ResponseWriter, r *http.Request, v any, limit int64) (commands.Meta, error) {
	body, err := readBodyUpTo(w, r, limit)
	if err != nil {
		return commands.Meta{}, err
	}
	switch {
	case v != nil:
		if err := decodeStrict(body, v); err != nil {
			return commands.Meta{}, err
		}
	case len(bytes.TrimSpace(body)) > 0:
		// No fields are taken, but an empty object is tolerated: some
		// clients always send one.
		if err := decodeStrict(body, &struct{}{}); err != nil {
			return commands.Meta{}, err
		}
	}
	return commandMeta(r, body)
}

// simpleCommand serves a command whose answer is the common response.
func simpleCommand(w http.ResponseWriter, r *http.Request, v any, run func(commands.Meta) (commands.Result, error)) {
	m, err := readCommand(w, r, v)
	if err != nil {
		writeError(w, r, err)
		return
	}
	res, err := run(m)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeResult(w, http.StatusOK, res, newCommandResponse(res))
}

func vars(r *http.Request) map[string]string { return mux.Vars(r) }
