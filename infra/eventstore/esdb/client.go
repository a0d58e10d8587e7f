package esdb

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

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
	// inflight counts the calls do has started. close waits for them
	// (closeWait at most) before it closes the client: the client closes
	// the channel its calls send on without ordering that after their
	// sends, so a call that has just finished would still race the close.
	inflight sync.WaitGroup
}

// closeWait bounds how long close waits for calls in flight: one that waits
// for a connection the client is still rediscovering may never return.
const closeWait = 5 * time.Second

// do runs op with the client and returns its error, or ctx's error when ctx
// ends first. op must use ctx for its calls, and must not touch anything
// the caller reads once do has returned ctx's error.
func (h *clientHolder) do(ctx context.Context, op func(*esdbclient.Client) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return errStoreClosed
	}
	h.inflight.Add(1)
	h.mu.Unlock()
	done := make(chan error, 1)
	go func() {
		defer h.inflight.Done()
		done <- protect(h.client, op)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *clientHolder) close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	h.mu.Unlock()
	if !h.owned {
		return
	}
	finished := make(chan struct{})
	go func() {
		h.inflight.Wait()
		close(finished)
	}()
	timer := time.NewTimer(closeWait)
	defer timer.Stop()
	select {
	case <-finished:
	case <-timer.C:
	}
	_ = h.client.Close()
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
