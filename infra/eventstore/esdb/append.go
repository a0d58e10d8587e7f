package esdb

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"

	esdbclient "github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/rosterhq/roster/infra/eventstore"
)

// Append implements eventstore.Store. It returns an error wrapping
// eventstore.ErrInvalidAppend for an append ValidateAppend refuses, a
// *eventstore.ConflictError when the stream is not at expected, and one
// wrapping eventstore.ErrDuplicateEvent when some of the IDs are stored but
// the append does not repeat an earlier one.
//
// The event IDs go to the node as they are, so the node's own idempotency
// applies; where its rules are looser than the port's, Append adds to them:
//   - a node answers a partial repeat as a wrong expected version; Append
//     reads the stream on every wrong expected version and answers a
//     repeat (whatever the expectation) with the first result, a partial,
//     reordered or gapped one with ErrDuplicateEvent, and only the rest as
//     a conflict;
//   - with Any, a node takes IDs it has stored in the stream, in any order,
//     as a repeat; Append reads back where it says they are and refuses
//     them unless they are there in order;
//   - a node keeps no index by event ID across streams, and with Any it
//     looks only at the first ID to tell a new append. Append refuses IDs
//     it knows to be stored elsewhere or partly, from its own appends and
//     stream reads (the last Config.KnownIDs of them). IDs another process
//     stored in another stream, unknown here, are not detected.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events []eventstore.EventData) (eventstore.AppendResult, error) {
	if err := eventstore.ValidateAppend(stream, events); err != nil {
		return eventstore.AppendResult{}, err
	}
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.ID
	}
	switch kind, first := s.known.lookup(stream, ids); kind {
	case knownElsewhere:
		return eventstore.AppendResult{}, duplicateError(stream)
	case knownRepeat:
		// Ask the node for the first result: an append that expects the
		// revision before its first event is a repeat the node checks by
		// position, and answers with where the events are.
		res, err := s.appendOnce(ctx, stream, expectBefore(first), events)
		if isWrongExpectedVersion(err) {
			return s.settle(ctx, stream, expected, ids, err)
		}
		return res, err
	}
	res, err := s.appendOnce(ctx, stream, toExpected(expected), events)
	if isWrongExpectedVersion(err) {
		return s.settle(ctx, stream, expected, ids, err)
	}
	if err != nil {
		return eventstore.AppendResult{}, err
	}
	if expected.IsAny() {
		if err := s.checkPlace(ctx, stream, res.Revision, ids); err != nil {
			return eventstore.AppendResult{}, err
		}
	}
	s.known.remember(stream, res.Revision+1-uint64(len(ids)), ids)
	return res, nil
}

// appendOnce sends one append and returns the node's answer.
func (s *Store) appendOnce(ctx context.Context, stream string, expected esdbclient.ExpectedRevision, events []eventstore.EventData) (eventstore.AppendResult, error) {
	data := make([]esdbclient.EventData, len(events))
	for i, e := range events {
		data[i] = esdbclient.EventData{EventID: uuid.MustParse(e.ID), EventType: e.Type,
			ContentType: esdbclient.ContentTypeJson, Data: e.Data, Metadata: e.Metadata}
	}
	var wr *esdbclient.WriteResult
	err := s.client.do(ctx, func(c *esdbclient.Client) error {
		var err error
		wr, err = c.AppendToStream(ctx, stream, esdbclient.AppendToStreamOptions{ExpectedRevision: expected}, data...)
		return err
	})
	if err != nil {
		if isWrongExpectedVersion(err) {
			return eventstore.AppendResult{}, err
		}
		return eventstore.AppendResult{}, fmt.Errorf("append to %s: %w", stream, err)
	}
	res := eventstore.AppendResult{Revision: wr.NextExpectedVersion,
		Position: eventstore.Position{Commit: wr.CommitPosition, Prepare: wr.PreparePosition}}
	if res.Position.IsZero() {
		// The node answered without a position: take the event's own.
		last, err := s.read(ctx, stream, res.Revision, 1)
		if err != nil || len(last) == 0 {
			return eventstore.AppendResult{}, fmt.Errorf("append to %s: no position for revision %d: %v", stream, res.Revision, err)
		}
		res.Position = last[0].Position
	}
	return res, nil
}

// settle decides what a wrong expected version meant, from the stream as
// it is: a repeat of an earlier append (answered with its result), a
// partial or disordered repeat (ErrDuplicateEvent), or a conflict.
func (s *Store) settle(ctx context.Context, stream string, expected eventstore.ExpectedRevision, ids []string, wrong error) (eventstore.AppendResult, error) {
	recorded, err := s.ReadStream(ctx, stream, 0)
	if err != nil {
		return eventstore.AppendResult{}, fmt.Errorf("append to %s: after a wrong expected version: %w", stream, err)
	}
	at := make(map[string]int, len(recorded))
	for i, e := range recorded {
		if _, ok := at[e.ID]; !ok {
			at[e.ID] = i
		}
	}
	found, inPlace := 0, true
	for i, id := range ids {
		j, ok := at[id]
		if ok {
			found++
		}
		if !ok || j != at[ids[0]]+i {
			inPlace = false
		}
	}
	switch {
	case found == 0:
		actual, ok := currentRevision(wrong)
		if !ok {
			actual = int64(len(recorded)) - 1
		}
		return eventstore.AppendResult{}, &eventstore.ConflictError{Stream: stream, Expected: expected, Actual: actual}
	case found == len(ids) && inPlace:
		last := recorded[at[ids[len(ids)-1]]]
		return eventstore.AppendResult{Revision: last.Revision, Position: last.Position}, nil
	}
	return eventstore.AppendResult{}, duplicateError(stream)
}

// checkPlace confirms that the events an append with Any succeeded with sit
// at the revisions ending at last, in order. A node takes an append of IDs
// it has in the stream for a repeat even when they are out of order or not
// consecutive; then nothing was stored and the append is a duplicate.
func (s *Store) checkPlace(ctx context.Context, stream string, last uint64, ids []string) error {
	n := uint64(len(ids))
	if last+1 < n {
		return duplicateError(stream)
	}
	got, err := s.read(ctx, stream, last+1-n, n)
	if err != nil {
		return fmt.Errorf("append to %s: read back: %w", stream, err)
	}
	if uint64(len(got)) != n {
		return duplicateError(stream)
	}
	for i, e := range got {
		if e.ID != ids[i] {
			return duplicateError(stream)
		}
	}
	return nil
}

func duplicateError(stream string) error {
	return fmt.Errorf("append to %s: %w", stream, eventstore.ErrDuplicateEvent)
}

// toExpected maps the port's expectation to the client's.
func toExpected(e eventstore.ExpectedRevision) esdbclient.ExpectedRevision {
	if r, ok := e.Revision(); ok {
		return esdbclient.StreamRevision{Value: r}
	}
	if e.IsNoStream() {
		return esdbclient.NoStream{}
	}
	return esdbclient.Any{}
}

// expectBefore is the expectation of an append whose first event is at
// revision first.
func expectBefore(first uint64) esdbclient.ExpectedRevision {
	if first == 0 {
		return esdbclient.NoStream{}
	}
	return esdbclient.StreamRevision{Value: first - 1}
}

func isWrongExpectedVersion(err error) bool {
	var e *esdbclient.Error
	return errors.As(err, &e) && e.Code() == esdbclient.ErrorCodeWrongExpectedVersion
}

// currentRevisionRE finds the stream's revision in the client's
// wrong-expected-version error, the only place the client puts it.
var currentRevisionRE = regexp.MustCompile(`but got '(no_stream|\d+)'`)

// currentRevision returns the revision the node said the stream is at, -1
// for no stream, and false when err does not say.
func currentRevision(err error) (int64, bool) {
	m := currentRevisionRE.FindStringSubmatch(err.Error())
	if m == nil {
		return 0, false
	}
	if m[1] == "no_stream" {
		return -1, true
	}
	n, perr := strconv.ParseInt(m[1], 10, 64)
	return n, perr == nil
}
