package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rosterhq/roster/infra/eventstore"
)

func testAppend(t *testing.T, newStore func(t *testing.T) eventstore.Store) {
	t.Parallel()
	tests := []struct {
		name     string
		existing int // events in the stream before the append
		expected eventstore.ExpectedRevision
		// wantRevision is the append's result when wantConflict is false.
		wantRevision uint64
		wantConflict bool
		wantActual   int64
	}{
		{name: "NoStream appends to a new stream from revision 0", existing: 0, expected: eventstore.NoStream(), wantRevision: 1},
		{name: "NoStream on an existing stream conflicts", existing: 2, expected: eventstore.NoStream(), wantConflict: true, wantActual: 1},
		{name: "Exact with the last revision appends after it", existing: 3, expected: eventstore.Exact(2), wantRevision: 4},
		{name: "Exact with an older revision conflicts", existing: 3, expected: eventstore.Exact(1), wantConflict: true, wantActual: 2},
		{name: "Exact with a revision not reached yet conflicts", existing: 3, expected: eventstore.Exact(5), wantConflict: true, wantActual: 2},
		{name: "Exact on a missing stream conflicts with Actual -1", existing: 0, expected: eventstore.Exact(0), wantConflict: true, wantActual: -1},
		{name: "Any appends to a new stream", existing: 0, expected: eventstore.Any(), wantRevision: 1},
		{name: "Any appends to an existing stream", existing: 3, expected: eventstore.Any(), wantRevision: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			ctx := context.Background()
			const stream = "property-append"
			if tt.existing > 0 {
				MustAppend(t, s, stream, eventstore.NoStream(), Events(tt.existing))
			}
			appended := Events(2)
			res, err := s.Append(ctx, stream, tt.expected, appended)

			got, rerr := s.ReadStream(ctx, stream, 0)
			if rerr != nil {
				t.Fatalf("ReadStream: %v", rerr)
			}
			if tt.wantConflict {
				checkConflict(t, err, stream, tt.expected, tt.wantActual)
				if len(got) != tt.existing {
					t.Errorf("after a conflict the stream holds %d events, want the %d it had", len(got), tt.existing)
				}
				return
			}
			if err != nil {
				t.Fatalf("Append: %v", err)
			}
			if len(got) != tt.existing+2 {
				t.Fatalf("the stream holds %d events, want %d", len(got), tt.existing+2)
			}
			last := got[len(got)-1]
			want := eventstore.AppendResult{Revision: tt.wantRevision, Position: last.Position}
			if diff := cmp.Diff(want, res); diff != "" {
				t.Errorf("Append result (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(ids(appended), ids(got[tt.existing:])); diff != "" {
				t.Errorf("appended events in the stream (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("a conflict matches ErrConflict and carries stream, expectation and actual revision", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		MustAppend(t, s, "property-c", eventstore.NoStream(), Events(4))
		_, err := s.Append(context.Background(), "property-c", eventstore.Exact(1), Events(1))
		checkConflict(t, err, "property-c", eventstore.Exact(1), 3)
		if errors.Is(err, eventstore.ErrDuplicateEvent) {
			t.Errorf("a conflict also matches ErrDuplicateEvent: %v", err)
		}
	})

	t.Run("revisions continue across appends to a stream and are independent between streams", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		a1 := MustAppend(t, s, "property-a", eventstore.NoStream(), Events(2))
		b1 := MustAppend(t, s, "property-b", eventstore.NoStream(), Events(1))
		a2 := MustAppend(t, s, "property-a", eventstore.Exact(a1.Revision), Events(3))
		got := []uint64{a1.Revision, b1.Revision, a2.Revision}
		if diff := cmp.Diff([]uint64{1, 0, 4}, got); diff != "" {
			t.Errorf("revisions (-want +got):\n%s", diff)
		}
		if !a1.Position.Less(b1.Position) || !b1.Position.Less(a2.Position) {
			t.Errorf("positions %s, %s, %s do not increase with the appends", a1.Position, b1.Position, a2.Position)
		}
	})
}

// checkConflict fails the test unless err is a *ConflictError with these
// fields that errors.Is matches to ErrConflict.
func checkConflict(t *testing.T, err error, stream string, expected eventstore.ExpectedRevision, actual int64) {
	t.Helper()
	if !errors.Is(err, eventstore.ErrConflict) {
		t.Fatalf("Append error = %v, want one matching ErrConflict", err)
	}
	var ce *eventstore.ConflictError
	if !errors.As(err, &ce) {
		t.Fatalf("Append error = %v (%T), want a *ConflictError", err, err)
	}
	type fields struct {
		Stream   string
		Expected string
		Actual   int64
	}
	want := fields{Stream: stream, Expected: expected.String(), Actual: actual}
	got := fields{Stream: ce.Stream, Expected: ce.Expected.String(), Actual: ce.Actual}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ConflictError (-want +got):\n%s", diff)
	}
}
