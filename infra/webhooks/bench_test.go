package webhooks_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rosterhq/roster/infra/webhooks"
)

// BenchmarkDeliveryThroughput sends b.N events to two endpoints of one
// property through the running dispatcher: a fast receiver, and a slow one
// that takes 50ms to answer each request. It reports the fast endpoint's
// deliveries per second, which the slow one must not hold back, and how
// many the slow one got meanwhile.
//
//	go test ./infra/webhooks/ -run '^$' -bench DeliveryThroughput -benchtime 2000x
func BenchmarkDeliveryThroughput(b *testing.B) {
	b.Run("fast alone", func(b *testing.B) { benchDeliveries(b, false) })
	b.Run("fast beside slow", func(b *testing.B) { benchDeliveries(b, true) })
}

func benchDeliveries(b *testing.B, withSlow bool) {
	var fastGot, slowGot atomic.Int64
	fast := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fastGot.Add(1) }))
	defer fast.Close()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(50 * time.Millisecond) // the slow receiver's own work
		slowGot.Add(1)
	}))
	defer slow.Close()
	f := newFixture(b, func(c *webhooks.Config) {
		c.Now, c.Timeout, c.Poll = time.Now, 5*time.Second, 10*time.Millisecond
	})
	if withSlow {
		f.endpoint(slow.URL)
	}
	f.endpoint(fast.URL)
	for i := range b.N {
		f.emit(joined("acc-" + strconv.Itoa(i)))
	}
	want := int64(b.N) + 1 // and the fast endpoint's own creation
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	b.ResetTimer()
	start := time.Now()
	go func() { _ = f.w.Run(ctx); close(done) }()
	for fastGot.Load() < want {
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	cancel()
	<-done
	b.ReportMetric(float64(want)/elapsed.Seconds(), "fast_deliveries/s")
	if withSlow {
		b.ReportMetric(float64(slowGot.Load()), "slow_delivered")
	}
}
