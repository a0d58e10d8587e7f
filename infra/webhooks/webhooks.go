package webhooks

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
)

// Defaults of Config.
const (
	DefaultRetryHorizon   = 72 * time.Hour
	DefaultTimeout        = 10 * time.Second
	DefaultInitialBackoff = 5 * time.Second
	DefaultMaxBackoff     = time.Hour
	DefaultWorkers        = 32
	DefaultPoll           = time.Second
	// jitter is the share of a backoff drawn at random either side of it,
	// so endpoints that failed together do not all come back at once.
	jitter = 0.2
)

// Config is what New builds the deliveries from.
type Config struct {
	// Pool holds the tables of migration 0022.
	Pool *pgxpool.Pool
	// Secrets derives the endpoints' signing secrets.
	Secrets *Secrets
	// Disable disables an endpoint that failed for RetryHorizon, as an
	// event of its property; nil only stops its deliveries here.
	Disable func(propertyID, endpointID string) error
	// RetryHorizon is how long an endpoint may fail in a row before its
	// delivery fails for good and it is disabled; DefaultRetryHorizon when zero.
	RetryHorizon time.Duration
	// Timeout bounds each request, connecting included; DefaultTimeout when zero.
	Timeout time.Duration
	// InitialBackoff is the wait after the first failure, doubled after
	// each next one up to MaxBackoff, give or take a fifth at random;
	// DefaultInitialBackoff and DefaultMaxBackoff when zero.
	InitialBackoff, MaxBackoff time.Duration
	// AllowHTTP sends to http:// URLs too (development).
	AllowHTTP bool
	// AllowPrivate lets deliveries reach private, loopback and link-local
	// addresses (development and tests).
	AllowPrivate bool
	// Workers is how many deliveries are sent at once in all, each to
	// another endpoint; DefaultWorkers when zero.
	Workers int
	// Poll is how often an idle dispatcher looks for deliveries due without
	// being woken; DefaultPoll when zero.
	Poll time.Duration
	// Now is the clock the deliveries are scheduled and stamped by;
	// time.Now when nil.
	Now func() time.Time
	// Rand draws the jitter in [0, 1); math/rand when nil.
	Rand func() float64
	// Log records the deliveries that fail.
	Log zerolog.Logger
}

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	if c.Pool == nil {
		errs = append(errs, errors.New("webhooks: no database pool"))
	}
	if c.Secrets == nil {
		errs = append(errs, errors.New("webhooks: no secret key"))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"retry horizon", c.RetryHorizon}, {"timeout", c.Timeout}, {"initial backoff", c.InitialBackoff},
		{"max backoff", c.MaxBackoff}, {"poll interval", c.Poll}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("webhooks: %s %s is negative", d.name, d.v))
		}
	}
	if c.Workers < 0 {
		errs = append(errs, fmt.Errorf("webhooks: %d workers is negative", c.Workers))
	}
	return errors.Join(errs...)
}

func (c *Config) setDefaults() {
	c.RetryHorizon = cmp.Or(c.RetryHorizon, DefaultRetryHorizon)
	c.Timeout = cmp.Or(c.Timeout, DefaultTimeout)
	c.InitialBackoff = cmp.Or(c.InitialBackoff, DefaultInitialBackoff)
	c.MaxBackoff = cmp.Or(c.MaxBackoff, DefaultMaxBackoff)
	c.Workers = cmp.Or(c.Workers, DefaultWorkers)
	c.Poll = cmp.Or(c.Poll, DefaultPoll)
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
}

// Webhooks is both the consumer of the feed that queues deliveries
// (Handle) and the dispatcher that sends them (Run, Drain). Several
// processes may dispatch from one database: a delivery is claimed before
// it is sent. It is safe for concurrent use.
type Webhooks struct {
	c      Config
	client *http.Client
	// queued wakes the dispatcher when Handle queued a delivery.
	queued chan struct{}
}

// New returns the deliveries, or c's problems.
func New(c Config) (*Webhooks, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	c.setDefaults()
	return &Webhooks{c: c, client: newClient(c.Timeout, c.AllowPrivate), queued: make(chan struct{}, 1)}, nil
}

// backoff is the wait after the n-th failure in a row (n from 1).
func (w *Webhooks) backoff(n int) time.Duration {
	d := w.c.InitialBackoff
	for i := 1; i < n && d < w.c.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, w.c.MaxBackoff)
	return time.Duration(float64(d) * (1 - jitter + 2*jitter*w.c.Rand()))
}

func (w *Webhooks) wake() {
	select {
	case w.queued <- struct{}{}:
	default:
	}
}
