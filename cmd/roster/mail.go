package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/infra/config"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/feed"
	"github.com/rosterhq/roster/infra/invitetoken"
	"github.com/rosterhq/roster/infra/logging"
	"github.com/rosterhq/roster/infra/mail"
	"github.com/rosterhq/roster/infra/privacy"
)

const mailUsage = `usage: roster mail <command> [flags]

commands:
  status            count the invitation mails pending, sent and failed, and list the failures
  retry EVENT_ID    re-queue a failed mail and send it again now

Run 'roster mail <command> -h' for the flags of a command.
`

// newDeliverer is the mail ledger over pool with the configured sender:
// SMTP when ROSTER_SMTP_URL is set, the log otherwise.
func newDeliverer(cfg config.Config, pool *pgxpool.Pool, log zerolog.Logger) (*mail.Deliverer, error) {
	var snd mail.Sender = mail.NewLogSender(log, cfg.AcceptPage())
	if cfg.SMTPURL != "" {
		sc, err := mail.ParseSMTPURL(cfg.SMTPURL)
		if err != nil {
			return nil, err
		}
		if snd, err = mail.NewSMTPSender(sc, cfg.MailFrom); err != nil {
			return nil, err
		}
	}
	return mail.NewDeliverer(mail.DelivererConfig{Pool: pool, Sender: snd, Lease: cfg.MailLease})
}

// mailer is a process's invitation mail: the consumer of the feed that
// records the mails in the ledger, for Consumers.AddPersistent("mail",
// consumer.Handle), the ledger, and the pool that sends from it, to Run
// beside the consumers.
type mailer struct {
	consumer   *mail.Consumer
	deliverer  *mail.Deliverer
	dispatcher *mail.Dispatcher
}

func newMailer(cfg config.Config, pool *pgxpool.Pool, log zerolog.Logger) (*mailer, error) {
	d, err := newDeliverer(cfg, pool, log)
	if err != nil {
		return nil, fmt.Errorf("mail: %w", err)
	}
	c, err := mail.NewConsumer(mail.ConsumerConfig{Pool: pool, Deliverer: d,
		Tokens: invitetoken.New(cfg.InvitationKey()), AcceptURL: cfg.AcceptPage(), Log: log,
		Opener: privacy.NewVault(pool, privacy.WithLogger(log))})
	if err != nil {
		return nil, err
	}
	p, err := mail.NewDispatcher(mail.DispatcherConfig{Consumer: c, Deliverer: d, Log: log})
	if err != nil {
		return nil, err
	}
	return &mailer{consumer: c, deliverer: d, dispatcher: p}, nil
}

func mailCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, mailUsage)
		return errUsage
	}
	switch args[0] {
	case "status":
		return mailStatusCmd(ctx, args[1:], getenv, stdout, stderr)
	case "retry":
		return mailRetryCmd(ctx, args[1:], getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, mailUsage)
		return nil
	}
	fmt.Fprintf(stderr, "roster mail: unknown command %q\n\n%s", args[0], mailUsage)
	return errUsage
}

// mailStatusCmd needs only the database: no mail server, no secrets.
func mailStatusCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	ops, asJSON, err := parseListing("roster mail status", args, getenv, stderr)
	if err != nil {
		return err
	}
	pool, _, closeAll, err := ops.open(ctx)
	if err != nil {
		return err
	}
	defer closeAll()
	// The sender is never used: Status reads the ledger only.
	d, err := mail.NewDeliverer(mail.DelivererConfig{Pool: pool, Sender: mail.NewLogSender(zerolog.Nop(), "")})
	if err != nil {
		return err
	}
	s, err := d.Status(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		if s.Failures == nil {
			s.Failures = []mail.Failure{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "pending\t%d\nsending\t%d\nsent\t%d\nfailed\t%d\n", s.Pending, s.Sending, s.Sent, s.Failed)
	if len(s.Failures) > 0 {
		fmt.Fprintf(tw, "\nEVENT\tRECIPIENT\tATTEMPTS\tFAILED AT\tLAST ERROR\n")
		for _, f := range s.Failures {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", f.EventID, f.Recipient, f.Attempts,
				f.FailedAt.UTC().Format("2006-01-02T15:04:05Z"), f.LastError)
		}
	}
	return tw.Flush()
}

// mailRetryCmd re-queues a failed mail and sends it at once: the ledger
// keeps no body (it would hold the token), so the mail is written again
// from its event, which the ledger keeps, or, for a mail recorded before it
// did, which is read from the feed.
func mailRetryCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("roster mail retry", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg, err := config.Parse(fs, args, getenv)
	if errors.Is(err, flag.ErrHelp) || (err != nil && !fs.Parsed()) {
		return errUsage
	}
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: roster mail retry [flags] EVENT_ID")
		return errUsage
	}
	eventID := fs.Arg(0)
	log, err := logging.New(stderr, cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		return err
	}
	pool, err := openPool(ctx, cfg.PGURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	m, err := newMailer(cfg, pool, log)
	if err != nil {
		return err
	}
	// Taken for this process in the same statement: the send below is the
	// one that happens, with this command's SMTP settings, not a running
	// server's that may be what refused it.
	if err := m.deliverer.RetryHere(ctx, eventID); err != nil {
		return err
	}
	err = m.dispatcher.Send(ctx, eventID)
	if errors.Is(err, mail.ErrNotQueued) {
		err = recordFromFeed(ctx, cfg, pool, m, eventID)
		if err == nil {
			err = m.dispatcher.Send(ctx, eventID)
		}
	}
	if err != nil && !mail.Permanent(err) {
		return fmt.Errorf("mail of event %s is re-queued but not sent yet: %w", eventID, err)
	}
	e, err := m.deliverer.Entry(ctx, eventID)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "roster: mail of event %s to %s is %s after %d attempt(s)\n", eventID, e.Recipient, e.Status, e.Attempts)
	if e.Status == mail.StatusFailed {
		return fmt.Errorf("mail of event %s failed again: %s", eventID, e.LastError)
	}
	return nil
}

// recordFromFeed records the mail of eventID in the ledger again from the
// feed's copy of its event, for a mail recorded before the ledger kept
// events.
func recordFromFeed(ctx context.Context, cfg config.Config, pool *pgxpool.Pool, m *mailer, eventID string) error {
	store, err := openEventStore(cfg, pool)
	if err != nil {
		return err
	}
	if c, ok := store.(io.Closer); ok {
		defer c.Close()
	}
	rec, err := findEvent(ctx, store, eventID)
	if err != nil {
		return err
	}
	return m.consumer.Handle(feed.ToMessage(rec))
}

// findEvent reads the feed from its start for the event id. An operator's
// retry is rare enough for a scan.
func findEvent(ctx context.Context, store eventStore, id string) (eventstore.RecordedEvent, error) {
	var after eventstore.Position
	for {
		batch, err := store.ReadAll(ctx, after, eventstore.DefaultBatchSize)
		if err != nil {
			return eventstore.RecordedEvent{}, err
		}
		if len(batch) == 0 {
			return eventstore.RecordedEvent{}, fmt.Errorf("no event %s in the feed", id)
		}
		for _, rec := range batch {
			if rec.ID == id {
				return rec, nil
			}
		}
		after = batch[len(batch)-1].Position
	}
}
