package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rosterhq/roster/infra/feed"
)

// Headers of a published message besides JetStream's Nats-Msg-Id.
const (
	HeaderType        = "Roster-Event-Type"
	HeaderContentType = "Content-Type"
)

// Forwarder publishes feed events to JetStream as integration events, one
// subject per property and type, with the event ID as the message ID so
// JetStream drops a second publish of the same event within the stream's
// duplicate window. Its methods are safe for concurrent use; ordering per
// property holds when one goroutine calls Handle, as the router does.
type Forwarder struct {
	cfg    Config
	logger watermill.LoggerAdapter
	conn   *nats.Conn
	js     jetstream.JetStream
	pub    *wmnats.Publisher

	mu          sync.Mutex
	streamReady bool
}

// NewForwarder connects to cfg.URL and makes sure the stream exists. The
// connection retries for ever, in the background, and so does the stream's
// creation (on the next Handle): Roster starts while the broker is down, and
// events wait in the feed. It fails for an invalid Config. logger may be nil.
func NewForwarder(cfg Config, logger watermill.LoggerAdapter) (*Forwarder, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("broker config: %w", err)
	}
	if logger == nil {
		logger = watermill.NopLogger{}
	}
	logger = logger.With(watermill.LogFields{"component": "broker", "stream": cfg.Stream})
	conn, err := nats.Connect(cfg.URL,
		nats.Name(cfg.ConnectionName),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(cfg.ReconnectWait),
		// No buffering while disconnected: a publish then fails at once,
		// Handle returns the error and the router retries, rather than a
		// buffered copy going out later behind the caller's back.
		nats.ReconnectBufSize(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			logger.Info("disconnected from broker", watermill.LogFields{"err": err})
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			logger.Info("reconnected to broker", watermill.LogFields{"server": c.ConnectedUrlRedacted()})
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("connect to broker: %w", err)
	}
	js, err := jetstream.New(conn)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	pub, err := wmnats.NewPublisherWithNatsConn(conn, wmnats.PublisherPublishConfig{
		Marshaler:         &wmnats.NATSMarshaler{},
		SubjectCalculator: wmnats.DefaultSubjectCalculator,
		JetStream: wmnats.JetStreamConfig{
			// The stream is ours to create (with a duplicate window),
			// not one per topic as AutoProvision would make.
			AutoProvision: false,
			// The watermill UUID (the event ID) becomes Nats-Msg-Id.
			TrackMsgId:     true,
			ConnectOptions: []nats.JSOpt{nats.MaxWait(cfg.PublishTimeout)},
			// A publish lands in our stream or fails.
			PublishOptions: []nats.PubOpt{nats.ExpectStream(cfg.Stream)},
		},
	}, logger)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("watermill nats publisher: %w", err)
	}
	f := &Forwarder{cfg: cfg, logger: logger, conn: conn, js: js, pub: pub}
	if err := f.ensureStream(); err != nil {
		logger.Error("stream not ready: trying again on the next event", err, nil)
	}
	return f, nil
}

// Handle maps a feed message to its integration event and publishes it,
// returning once JetStream has acknowledged it. It is a watermill
// NoPublishHandlerFunc. It returns an error when the broker is unreachable
// or does not acknowledge (retry: the same event ID is dropped as a
// duplicate), and one matching ErrUnmapped for an event with no public form
// (retrying will not help: route it to a poison queue).
func (f *Forwarder) Handle(msg *message.Message) error {
	rec, err := feed.FromMessage(msg)
	if err != nil {
		return err
	}
	ev, err := ToIntegration(rec)
	if err != nil {
		return err
	}
	subject, err := SubjectFor(f.cfg.SubjectPrefix, ev.PropertyID, ev.Type)
	if err != nil {
		return fmt.Errorf("event %s: %w: %w", ev.ID, ErrUnmapped, err)
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode event %s: %w", ev.ID, err)
	}
	if err := f.ensureStream(); err != nil {
		return err
	}
	// A fresh message: the feed message's metadata holds the internal
	// event metadata (e-mail, IP), which must not leave.
	out := message.NewMessage(ev.ID, body)
	out.Metadata.Set(HeaderType, ev.Type)
	out.Metadata.Set(HeaderContentType, "application/json")
	if err := f.pub.Publish(subject, out); err != nil {
		if errors.Is(err, nats.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) {
			// The stream may be gone (a broker with a fresh store):
			// create it again before the retry.
			f.mu.Lock()
			f.streamReady = false
			f.mu.Unlock()
		}
		return fmt.Errorf("publish event %s to %s: %w", ev.ID, subject, err)
	}
	return nil
}

// ensureStream creates the stream unless it was found or created before.
// A stream an operator made is used as it is when it captures our
// subjects.
func (f *Forwarder) ensureStream() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.streamReady {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), f.cfg.PublishTimeout)
	defer cancel()
	want := f.cfg.SubjectPrefix + ".>"
	_, err := f.js.CreateStream(ctx, jetstream.StreamConfig{
		Name:        f.cfg.Stream,
		Description: "Roster integration events (docs/integration-events.md)",
		Subjects:    []string{want},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Duplicates:  f.cfg.DuplicateWindow,
	})
	switch {
	case err == nil:
		f.logger.Info("created stream", watermill.LogFields{"subjects": want, "duplicate_window": f.cfg.DuplicateWindow.String()})
	case errors.Is(err, jetstream.ErrStreamNameAlreadyInUse):
		s, err := f.js.Stream(ctx, f.cfg.Stream)
		if err != nil {
			return fmt.Errorf("stream %s: %w", f.cfg.Stream, err)
		}
		info := s.CachedInfo()
		if !captures(info.Config.Subjects, want) {
			return fmt.Errorf("stream %s exists with subjects %v, not %s", f.cfg.Stream, info.Config.Subjects, want)
		}
		if info.Config.Duplicates < time.Minute {
			f.logger.Info("stream has a short duplicate window", watermill.LogFields{"duplicate_window": info.Config.Duplicates.String()})
		}
	default:
		return fmt.Errorf("create stream %s: %w", f.cfg.Stream, err)
	}
	f.streamReady = true
	return nil
}

func captures(subjects []string, want string) bool {
	for _, s := range subjects {
		if s == want || s == ">" {
			return true
		}
	}
	return false
}

// Close closes the connection to the broker. A message Handle is
// publishing may fail. Close is safe to call more than once.
func (f *Forwarder) Close() error {
	return f.pub.Close()
}

// The forwarder is a router handler without output.
var _ message.NoPublishHandlerFunc = (*Forwarder)(nil).Handle
