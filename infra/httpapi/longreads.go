package httpapi

import (
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/rosterhq/roster/domain"
)

// The bounds of long reads when LongReadLimits leaves them zero.
const (
	DefaultLongReadsPerCaller = 2
	DefaultLongReadsTotal     = 8
)

// longReadRetryAfter is how long a refused long read is told to wait: about
// what an export of a large trail or a replayed review takes.
const longReadRetryAfter = 5 * time.Second

// LongReadLimits bounds the reads that take long: audit exports (CSV and
// NDJSON), queries with as_of and the access review, which replay or
// stream much more than a page. Past a bound they are answered 429
// too_many_long_reads with Retry-After, so that however many slow readers
// come, the database's connections stay with commands and short queries.
type LongReadLimits struct {
	// PerCaller is how many long reads one account may run at once;
	// DefaultLongReadsPerCaller when zero.
	PerCaller int
	// Total is how many long reads the server runs at once, whoever asks;
	// DefaultLongReadsTotal when zero.
	Total int
}

// longReads counts the long reads running, in total and per account. It is
// safe for concurrent use.
type longReads struct {
	perCaller, total int

	mu       sync.Mutex
	running  int
	byCaller map[string]int
}

func newLongReads(l LongReadLimits) *longReads {
	if l.PerCaller <= 0 {
		l.PerCaller = DefaultLongReadsPerCaller
	}
	if l.Total <= 0 {
		l.Total = DefaultLongReadsTotal
	}
	return &longReads{perCaller: l.PerCaller, total: l.Total, byCaller: map[string]int{}}
}

// begin takes a place for one long read of caller and returns the function
// that gives it back. Past either bound it takes none and returns a
// *domain.Error of kind KindTooMany (CodeTooManyLongReads) saying which.
func (l *longReads) begin(caller string) (end func(), err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.byCaller[caller] >= l.perCaller:
		return nil, &domain.Error{Kind: domain.KindTooMany, Code: domain.CodeTooManyLongReads, RetryAfter: longReadRetryAfter,
			Message: fmt.Sprintf("you are running %d long reads (audit exports, as_of queries, access reviews), "+
				"as many as one account may at once; try again when one has finished", l.perCaller)}
	case l.running >= l.total:
		return nil, &domain.Error{Kind: domain.KindTooMany, Code: domain.CodeTooManyLongReads, RetryAfter: longReadRetryAfter,
			Message: fmt.Sprintf("the server is running %d long reads (audit exports, as_of queries, access reviews), "+
				"as many as it runs at once; try again shortly", l.total)}
	}
	l.running++
	l.byCaller[caller]++
	var once sync.Once
	return func() { once.Do(func() { l.finish(caller) }) }, nil
}

func (l *longReads) finish(caller string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.running--
	if l.byCaller[caller]--; l.byCaller[caller] <= 0 {
		delete(l.byCaller, caller) // the map holds only the accounts reading now
	}
}

// longRead runs read as one long read of the caller, or answers 429 when
// the caller or the server is at its bound. The place is given back even
// when read panics, as an export cut short does.
func (s *server) longRead(w http.ResponseWriter, r *http.Request, read func()) {
	end, err := s.longReads.begin(actorOf(r.Context()).AccountID)
	if err != nil {
		writeError(w, r, err)
		return
	}
	defer end()
	read()
}
