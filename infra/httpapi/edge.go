package httpapi

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/rosterhq/roster/domain"
)

// checkEdge refuses, before any route sees it, a request whose path or
// query cannot be taken as text: PostgreSQL text cannot hold U+0000 or
// invalid UTF-8, so such a value would fail deep inside a query (a 500)
// or, worse, inside an event. Control characters are refused with them:
// no ID, filter or cursor of this API has one. A query that cannot be
// parsed (a bad escape, a ';' separator) is refused too, rather than
// dropped in silence as url.Values would. Both are 400: invalid_path and
// invalid_query.
func checkEdge(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := checkPath(r.URL.Path); err != nil {
			writeError(w, r, err)
			return
		}
		if err := checkQuery(r.URL.RawQuery); err != nil {
			writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// checkPath checks the decoded path, segment by segment. Error:
// KindMalformed with CodeInvalidPath naming the segment by position.
func checkPath(path string) error {
	// Segment by segment without strings.Split, which would allocate on
	// every request for a path that is almost always fine.
	rest := strings.TrimPrefix(path, "/")
	for i, more := 0, true; more; i++ {
		var seg string
		seg, rest, more = strings.Cut(rest, "/")
		if why := badText(seg); why != "" {
			return &domain.Error{Kind: domain.KindMalformed, Code: domain.CodeInvalidPath,
				Message: fmt.Sprintf("path segment %d %s", i+1, why),
				Problems: []domain.Problem{{Index: -1, Field: fmt.Sprintf("path segment %d", i+1), Value: printable(seg),
					Code: domain.CodeInvalidPath, Message: why}}}
		}
	}
	return nil
}

// checkQuery parses the raw query and checks every name and value.
// Error: KindMalformed with CodeInvalidQuery naming the parameter.
func checkQuery(raw string) error {
	if raw == "" {
		return nil
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return domain.Errorf(domain.KindMalformed, domain.CodeInvalidQuery,
			"the query cannot be read: %v; escape values with %%XX and separate parameters with &", err)
	}
	for name, values := range q {
		if why := badText(name); why != "" {
			return queryProblem(printable(name), "", "a parameter name "+why)
		}
		for _, v := range values {
			if why := badText(v); why != "" {
				return queryProblem(name, printable(v), why)
			}
		}
	}
	return nil
}

func queryProblem(name, value, why string) error {
	return &domain.Error{Kind: domain.KindMalformed, Code: domain.CodeInvalidQuery,
		Message:  fmt.Sprintf("query parameter %s %s", name, why),
		Problems: []domain.Problem{{Index: -1, Field: name, Value: value, Code: domain.CodeInvalidQuery, Message: why}}}
}

// badText says what makes s unfit to be taken as text, or "" when nothing.
func badText(s string) string {
	for i, c := range s {
		switch {
		case c == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			return fmt.Sprintf("is not valid UTF-8 at byte %d", i)
		case c == 0:
			return fmt.Sprintf("holds U+0000 at byte %d", i)
		case unicode.IsControl(c):
			return fmt.Sprintf("holds control character %U at byte %d", c, i)
		}
	}
	return ""
}

// printable is s with what badText refuses escaped and cut to 100 bytes,
// fit to echo in a problem document.
func printable(s string) string {
	q := fmt.Sprintf("%+q", s)
	q = q[1 : len(q)-1]
	if len(q) > 100 {
		q = q[:100] + "..."
	}
	return q
}

// maxUserAgent bounds the User-Agent kept in every event's metadata: real
// browsers' are under 300 bytes.
const maxUserAgent = 512

// userAgent is the request's User-Agent as events keep it: invalid UTF-8,
// control and format characters (bidirectional overrides among them) are
// dropped, and it is cut to maxUserAgent bytes at a character boundary.
// It is cleaned rather than refused: it is informational, written by
// software the user does not control, and no request should fail for it.
func userAgent(r *http.Request) string {
	ua := r.UserAgent()
	var b strings.Builder
	for i, c := range ua {
		if (c == utf8.RuneError && !strings.HasPrefix(ua[i:], "\uFFFD")) || unicode.IsControl(c) || unicode.Is(unicode.Cf, c) {
			continue
		}
		if b.Len()+utf8.RuneLen(c) > maxUserAgent {
			break
		}
		b.WriteRune(c)
	}
	return strings.TrimSpace(b.String())
}
