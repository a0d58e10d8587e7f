package privacy

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Watch listens on NotifyChannel for forgets by any process until ctx ends,
// and then returns nil. On each one it drops the subjects Seal has cached,
// then calls onForget (may be nil), so the caller can drop what it caches
// of decrypted events. Whenever it starts listening, the first time and
// after a lost connection, it does the same: a forget may have gone
// unheard meanwhile. A lost connection is logged and retried with backoff.
//
// Until a process has heard of a forget, its Seal may still seal with the
// destroyed key; such values read as erased, like the rest of that
// person's data.
func (v *Vault) Watch(ctx context.Context, onForget func()) error {
	wait := 100 * time.Millisecond
	for {
		heard, err := v.listen(ctx, onForget)
		if ctx.Err() != nil {
			return nil
		}
		if heard {
			wait = 100 * time.Millisecond
		}
		v.log.Warn().Err(err).Dur("retry_in", wait).Msg("privacy: lost the forget notifications; listening again")
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		wait = min(2*wait, 30*time.Second)
	}
}

// listen holds one connection listening until it fails or ctx ends. heard
// reports whether it got as far as listening.
func (v *Vault) listen(ctx context.Context, onForget func()) (heard bool, err error) {
	conn, err := v.pool.Acquire(ctx)
	if err != nil {
		return false, err
	}
	// A connection that has listened goes back to the pool only after
	// UNLISTEN: another user of it would otherwise receive the channel.
	defer func() {
		if conn.Conn().IsClosed() {
			conn.Release()
			return
		}
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, "UNLISTEN *"); err != nil {
			_ = conn.Hijack().Close(uctx)
			return
		}
		conn.Release()
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{NotifyChannel}.Sanitize()); err != nil {
		return false, fmt.Errorf("listen: %w", err)
	}
	forgotten := func() {
		v.flush()
		if onForget != nil {
			onForget()
		}
	}
	forgotten()
	if v.onListen != nil {
		v.onListen()
	}
	for {
		if _, err := conn.Conn().WaitForNotification(ctx); err != nil {
			return true, err
		}
		forgotten()
	}
}
