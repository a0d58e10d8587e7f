package esdb

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"

	esdbclient "github.com/EventStore/EventStore-Client-Go/v4/esdb"
)

// errStoreClosed is returned by every call after Store.Close.
var errStoreClosed = errors.New("eventstoredb: store closed")

// clientHolder runs the Store's calls on its client.
//
// The client runs one goroutine that owns its connection, and a call first
// asks that goroutine for the connection over an unbuffered channel,
// without looking at the call's context. While the goroutine rediscovers
// the node after the connection broke, every call waits there; and when a
// discovery fails maxDiscoverAttempts times in a row the goroutine marks
// the client closed and returns for good, leaving the waiting calls blocked
// forever and failing every later one. So Open lifts that limit (the client
// then waits out any outage and reconnects by itself), and do runs each
// call in a goroutine of its own and returns when the caller's context
// ends, even if the client has not let go of the call yet: the call then
// meets its ended context as soon as it reaches the server, and stops. It
// is safe for concurrent use.
type clientHolder struct {
	client *esdbclient.Client
	owned  bool // Close closes the client

	mu     sync.Mutex
	closed bool
}

// do runs op with the client and returns its error, or ctx's error when ctx
// ends first. op must use ctx for its calls, and must not touch anything
// the caller reads once do has returned ctx's error.
func (h *clientHolder) do(ctx context.Context, op func(*esdbclient.Client) error) error {
	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	if closed {
		return errStoreClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- protect(h.client, op) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *clientHolder) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	if h.owned {
		_ = h.client.Close()
	}
}

// protect runs op and turns the panic of a call that was still waiting for
// the client's connection goroutine when Close closed its channel into an
// error. Any other panic goes on.
func protect(c *esdbclient.Client, op func(*esdbclient.Client) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if re, ok := r.(runtime.Error); ok && strings.Contains(re.Error(), "send on closed channel") {
				err = fmt.Errorf("%w: %v", errStoreClosed, re)
				return
			}
			panic(r)
		}
	}()
	return op(c)
}
