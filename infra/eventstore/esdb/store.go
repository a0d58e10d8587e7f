// Package esdb is the event store port over EventStoreDB, through the
// official Go client (github.com/EventStore/EventStore-Client-Go/v4).
//
// One port stream is one EventStoreDB stream of the same name; an event's
// ID, type, data and metadata are the EventStoreDB event's ID, type, data
// (content type JSON) and user metadata. Revisions are event numbers.
//
// # Positions
//
// An eventstore.Position is an EventStoreDB $all position, field for
// field: Commit is the commit position and Prepare the prepare position,
// both byte offsets in the node's transaction file, and both order the
// same way (commit, then prepare). An event appended outside an explicit
// transaction (every event this package appends) commits itself, so its
// two positions are equal. eventstore.Start is the start of $all. The node
// stores positions as signed 64-bit numbers, so they fit the PostgreSQL
// checkpoint columns.
//
// # The feed
//
// ReadAll and SubscribeAll carry the events of streams whose names begin
// with Config.FeedPrefix (property- by default), and no system events
// (types beginning with $): other streams of the same node stay out of the
// feed. SubscribeAll filters on the server, by stream-name prefix; ReadAll
// reads $all and filters here, because the client offers no filtered read.
package esdb

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"strings"
	"sync"
	"time"

	esdbclient "github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
)

// Config tunes a Store. The zero value takes every default.
type Config struct {
	// FeedPrefix is the stream-name prefix of the streams ReadAll and
	// SubscribeAll carry. Default domain.StreamPrefix.
	FeedPrefix string
	// BatchSize is the most events one Subscription.Next returns.
	// Default eventstore.DefaultBatchSize.
	BatchSize int
	// MinBackoff and MaxBackoff bound the wait before a subscription
	// subscribes again after it dropped: MinBackoff first, doubling up to
	// MaxBackoff while attempts fail. Defaults 100ms and 10s.
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// SubscribeTimeout bounds each subscribe until the node confirms it;
	// a first subscribe that times out fails SubscribeAll, a later one is
	// retried. Default 30s.
	SubscribeTimeout time.Duration
	// KnownIDs is how many event IDs the store remembers, with their stream
	// and revision, from its own appends and stream reads, to refuse an
	// append that repeats some of them. Default 65536.
	KnownIDs int
	// ClientLog receives the client's own log lines when Open creates the
	// client. Default: discarded.
	ClientLog esdbclient.LoggingFunc
}

func (c *Config) setDefaults() {
	if c.FeedPrefix == "" {
		c.FeedPrefix = domain.StreamPrefix
	}
	if c.BatchSize == 0 {
		c.BatchSize = eventstore.DefaultBatchSize
	}
	if c.MinBackoff == 0 {
		c.MinBackoff = 100 * time.Millisecond
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = 10 * time.Second
	}
	if c.SubscribeTimeout == 0 {
		c.SubscribeTimeout = 30 * time.Second
	}
	if c.KnownIDs == 0 {
		c.KnownIDs = 1 << 16
	}
	if c.ClientLog == nil {
		c.ClientLog = esdbclient.NoopLogging()
	}
}

// Validate reports every problem of c (after defaults), joined.
func (c Config) Validate() error {
	var errs []error
	if strings.HasPrefix(c.FeedPrefix, "$") {
		errs = append(errs, fmt.Errorf("feed prefix %q names system streams", c.FeedPrefix))
	}
	if c.BatchSize < 0 {
		errs = append(errs, fmt.Errorf("batch size %d is negative", c.BatchSize))
	}
	if c.MinBackoff < 0 || c.MaxBackoff < c.MinBackoff {
		errs = append(errs, fmt.Errorf("backoff %s..%s is not a range", c.MinBackoff, c.MaxBackoff))
	}
	if c.SubscribeTimeout < 0 {
		errs = append(errs, fmt.Errorf("subscribe timeout %s is negative", c.SubscribeTimeout))
	}
	if c.KnownIDs < 0 {
		errs = append(errs, fmt.Errorf("known IDs %d is negative", c.KnownIDs))
	}
	return errors.Join(errs...)
}

// Store is the event store port over one EventStoreDB node or cluster. It
// is safe for concurrent use.
type Store struct {
	cfg    Config
	client *clientHolder
	known  *knownIDs

	mu     sync.Mutex
	subs   map[*subscription]struct{}
	closed bool
}

var _ eventstore.Store = (*Store)(nil)

// New returns a Store over client with the default Config. The caller keeps
// the client: Close does not close it. Configure it as Open does (see
// there): with the client's default of 10 discovery attempts it stops for
// good after a node has been away for a second or two.
func New(client *esdbclient.Client) *Store {
	s, _ := NewWithConfig(client, Config{})
	return s
}

// NewWithConfig is New with a Config; it fails only when the Config is
// invalid.
func NewWithConfig(client *esdbclient.Client, cfg Config) (*Store, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("eventstoredb: %w", err)
	}
	return newStore(&clientHolder{client: client}, cfg), nil
}

// Open returns a Store over the node or cluster a client connection string
// names: esdb://host:2113?tls=false for one insecure node,
// esdb://node1:2113,node2:2113,node3:2113 or esdb+discover://cluster:2113
// for a cluster (TLS by default; tlsCAFile=, tlsVerifyCert=,
// userCertFile= and the client's other settings apply). It connects on
// first use. The Store owns the client: Close closes it.
//
// Open sets maxDiscoverAttempts to no limit, whatever the string says: the
// client stops for good after that many failed discoveries in a row, and
// the Store must outlive an outage. Calls are bounded by their contexts
// instead, and a subscription retries by itself (see SubscribeAll).
func Open(connectionString string, cfg Config) (*Store, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("eventstoredb: %w", err)
	}
	conf, err := esdbclient.ParseConnectionString(connectionString)
	if err != nil {
		// A URL error quotes the string, password and all: keep its reason.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, fmt.Errorf("eventstoredb connection string: %w", err)
	}
	conf.Logger = cfg.ClientLog
	conf.MaxDiscoverAttempts = math.MaxInt32
	client, err := esdbclient.NewClient(conf)
	if err != nil {
		return nil, fmt.Errorf("eventstoredb client: %w", err)
	}
	return newStore(&clientHolder{client: client, owned: true}, cfg), nil
}

func newStore(h *clientHolder, cfg Config) *Store {
	return &Store{cfg: cfg, client: h, known: newKnownIDs(cfg.KnownIDs), subs: make(map[*subscription]struct{})}
}

// Close closes the open subscriptions and, when Open made the client, the
// client. Calls after Close fail. It is safe to call more than once.
func (s *Store) Close() error {
	s.mu.Lock()
	s.closed = true
	subs := make([]*subscription, 0, len(s.subs))
	for sub := range s.subs {
		subs = append(subs, sub)
	}
	s.mu.Unlock()
	for _, sub := range subs {
		_ = sub.Close()
	}
	s.client.close()
	return nil
}

// inFeed reports whether an event belongs to the feed.
func (s *Store) inFeed(e *esdbclient.RecordedEvent) bool {
	return strings.HasPrefix(e.StreamID, s.cfg.FeedPrefix) && !strings.HasPrefix(e.EventType, "$")
}

// toPosition and fromPosition map positions one to one (see the package
// documentation).
func toPosition(p esdbclient.Position) eventstore.Position {
	return eventstore.Position{Commit: p.Commit, Prepare: p.Prepare}
}

func fromPosition(p eventstore.Position) esdbclient.AllPosition {
	if p.IsZero() {
		return esdbclient.Start{}
	}
	return esdbclient.Position{Commit: p.Commit, Prepare: p.Prepare}
}

// toRecorded converts a recorded event. Empty metadata becomes nil, as the
// port promises.
func toRecorded(e *esdbclient.RecordedEvent) eventstore.RecordedEvent {
	var meta []byte
	if len(e.UserMetadata) > 0 {
		meta = e.UserMetadata
	}
	return eventstore.RecordedEvent{
		ID:         e.EventID.String(),
		StreamID:   e.StreamID,
		Revision:   e.EventNumber,
		Position:   toPosition(e.Position),
		Type:       e.EventType,
		Data:       e.Data,
		Metadata:   meta,
		RecordedAt: e.CreatedDate,
	}
}
