package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/chain"
	"github.com/rosterhq/roster/infra/config"
)

const auditUsage = `usage: roster audit <command> [flags]

commands:
  verify [-property ID] [-json]        recompute each property's hash chain (or one) and name the first event that does not match
  head -property ID                    print the property's head, verified and signed (needs ROSTER_AUDIT_SIGNING_KEY)
  check-head FILE [-public-key KEY]    check a stored signed head (FILE, or - for standard input) against the events now
  public-key                           print the public key that checks heads (needs ROSTER_AUDIT_SIGNING_KEY)

Run 'roster audit <command> -h' for the flags of a command.
`

func auditCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, auditUsage)
		return errUsage
	}
	switch args[0] {
	case "verify":
		return auditVerifyCmd(ctx, args[1:], getenv, stdout, stderr)
	case "head":
		return auditHeadCmd(ctx, args[1:], getenv, stdout, stderr)
	case "check-head":
		return auditCheckHeadCmd(ctx, args[1:], getenv, stdout, stderr)
	case "public-key":
		return auditPublicKeyCmd(args[1:], getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, auditUsage)
		return nil
	}
	fmt.Fprintf(stderr, "roster audit: unknown command %q\n\n%s", args[0], auditUsage)
	return errUsage
}

// openChainStore opens the event store the way the projection commands do,
// and reads it raw: the chain covers the stored bytes, so nothing here
// opens sealed fields.
func openChainStore(ctx context.Context, ops *opsFlags) (*pgxpool.Pool, chain.Store, func(), error) {
	if ops.cfg.EventStore == config.EventStoreMemory {
		return nil, nil, nil, errors.New("the memory event store lives inside the serving process, so its chain cannot be read from here; use postgres or esdb")
	}
	pool, feed, release, err := ops.open(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	store, ok := feed.(chain.Store)
	if !ok {
		release()
		return nil, nil, nil, fmt.Errorf("event store %s cannot read streams", ops.cfg.EventStore)
	}
	return pool, store, release, nil
}

// errChainBroken is returned when a history does not verify, so the process
// exits 1 after printing what was wrong.
var errChainBroken = errors.New("the chain does not verify")

func auditVerifyCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("roster audit verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ops := newOpsFlags(fs, getenv)
	property := fs.String("property", "", "verify this property only (default every property)")
	asJSON := fs.Bool("json", false, "print one JSON report per property and line")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "roster audit verify: unexpected arguments %v\n", fs.Args())
		return errUsage
	}
	pool, store, release, err := openChainStore(ctx, ops)
	if err != nil {
		return err
	}
	defer release()
	var checked, failed int
	emit := func(r chain.Report) error {
		checked++
		if !r.OK {
			failed++
		}
		if *asJSON {
			return json.NewEncoder(stdout).Encode(r)
		}
		_, err := fmt.Fprintln(stdout, reportLine(r))
		return err
	}
	if id := strings.TrimSpace(*property); id != "" {
		rep, err := chain.Verify(ctx, store, domain.StreamName(id))
		if err != nil {
			return err
		}
		err = emit(rep)
		if err == nil && failed > 0 {
			err = fmt.Errorf("property %s: %w", id, errChainBroken)
		}
		return err
	}
	known, err := knownProperties(ctx, pool, ops.cfg.EventStore)
	if err != nil {
		return err
	}
	if err := chain.VerifyAll(ctx, store, known, emit); err != nil {
		return err
	}
	if !*asJSON {
		fmt.Fprintf(stdout, "%d properties checked, %d do not verify\n", checked, failed)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d properties: %w", failed, checked, errChainBroken)
	}
	return nil
}

// reportLine is one property's verification for people.
func reportLine(r chain.Report) string {
	if r.OK {
		return fmt.Sprintf("ok    %s  %d events (%d chained, %d unchained), head revision %d hash %s",
			r.PropertyID, r.Events, r.Chained, r.Unchained, r.Head.Revision, r.Head.Hash)
	}
	return fmt.Sprintf("FAIL  %s  %s at revision %d: %s", r.PropertyID, r.Problem.Kind, r.Problem.Revision, r.Problem.Message)
}

// knownProperties lists the properties known besides the global feed, for
// VerifyAll to verify too. The read model names properties whose every
// event was deleted, which the feed cannot. With the PostgreSQL store the
// events table is asked as well: its feed holds back every event committed
// after the oldest transaction still open anywhere on the server, so while
// one is open the feed alone would silently leave properties out.
func knownProperties(ctx context.Context, pool *pgxpool.Pool, eventStore string) ([]string, error) {
	q, args := `SELECT property_id FROM rm_properties ORDER BY 1`, []any(nil)
	if eventStore == config.EventStorePostgres {
		q = `SELECT property_id FROM rm_properties
			UNION SELECT substr(stream_id, length($1) + 1) FROM events WHERE starts_with(stream_id, $1)
			ORDER BY 1`
		args = append(args, domain.StreamPrefix)
	}
	rows, err := pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list properties: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list properties: %w", err)
	}
	return ids, nil
}

// signingKeyFlag registers -audit-signing-key. The value is read from the
// environment after parsing, so -h never prints the key.
func signingKeyFlag(fs *flag.FlagSet) *string {
	return fs.String(config.FlagName("ROSTER_AUDIT_SIGNING_KEY"), "", "Ed25519 signing key, base64 of the 32-byte seed or 64-byte private key (env ROSTER_AUDIT_SIGNING_KEY)")
}

// signingKey is the key of the flag or, without it, the environment; nil
// when neither is set.
func signingKey(flagValue string, getenv func(string) string) (ed25519.PrivateKey, error) {
	key, err := config.ParseAuditSigningKey(orDefault(flagValue, getenv("ROSTER_AUDIT_SIGNING_KEY")))
	if err != nil {
		return nil, fmt.Errorf("ROSTER_AUDIT_SIGNING_KEY: %w", err)
	}
	return key, nil
}

func auditHeadCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("roster audit head", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ops := newOpsFlags(fs, getenv)
	property := fs.String("property", "", "the property whose head to sign (required)")
	keyFlag := signingKeyFlag(fs)
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() > 0 || strings.TrimSpace(*property) == "" {
		fmt.Fprintln(stderr, "roster audit head: -property ID is required, and nothing else")
		return errUsage
	}
	key, err := signingKey(*keyFlag, getenv)
	if err != nil {
		return err
	}
	if key == nil {
		return errors.New("signing key not configured: set ROSTER_AUDIT_SIGNING_KEY")
	}
	signer, err := chain.NewSigner(key, nil)
	if err != nil {
		return err
	}
	_, store, release, err := openChainStore(ctx, ops)
	if err != nil {
		return err
	}
	defer release()
	h, err := signer.SignHead(ctx, store, strings.TrimSpace(*property))
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(h)
}

func auditCheckHeadCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("roster audit check-head", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ops := newOpsFlags(fs, getenv)
	pubFlag := fs.String("public-key", "", "the public key that signed the head, standard base64 (default the public half of ROSTER_AUDIT_SIGNING_KEY)")
	keyFlag := signingKeyFlag(fs)
	asJSON := fs.Bool("json", false, "print the check as JSON")
	// FILE may come before the flags, as the usage shows it.
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	file := fs.Arg(0)
	if fs.NArg() > 0 {
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			return errUsage
		}
	}
	if file == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "roster audit check-head: give one FILE holding a signed head (- for standard input)")
		return errUsage
	}
	pub, err := checkKey(*pubFlag, *keyFlag, getenv)
	if err != nil {
		return err
	}
	h, err := readHead(file)
	if err != nil {
		return err
	}
	_, store, release, err := openChainStore(ctx, ops)
	if err != nil {
		return err
	}
	defer release()
	res, err := chain.CheckHead(ctx, store, h, pub)
	if err != nil {
		return err
	}
	if *asJSON {
		err = json.NewEncoder(stdout).Encode(res)
	} else if res.OK {
		_, err = fmt.Fprintf(stdout, "ok    head of property %s at revision %d holds (hash %s, signed %s by key %s)\n",
			h.PropertyID, h.Revision, h.Hash, h.SignedAt.Format("2006-01-02T15:04:05Z07:00"), h.KeyID)
	} else {
		_, err = fmt.Fprintf(stdout, "FAIL  head of property %s at revision %d: %s: %s\n", h.PropertyID, h.Revision, res.Problem.Kind, res.Problem.Message)
	}
	if err == nil && !res.OK {
		err = fmt.Errorf("head of property %s: %s", h.PropertyID, res.Problem.Kind)
	}
	return err
}

// checkKey is the public key to check a head with: the one given, else the
// configured signing key's.
func checkKey(pubFlag, keyFlag string, getenv func(string) string) (ed25519.PublicKey, error) {
	if pubFlag = strings.TrimSpace(pubFlag); pubFlag != "" {
		return chain.ParsePublicKey(pubFlag)
	}
	key, err := signingKey(keyFlag, getenv)
	if err != nil {
		return nil, err
	}
	if key == nil {
		return nil, errors.New("no public key: give -public-key (from GET /v1/audit/public-key) or set ROSTER_AUDIT_SIGNING_KEY")
	}
	return key.Public().(ed25519.PublicKey), nil
}

// readHead reads a head as `roster audit head` or GET .../audit/head wrote
// it. Unknown fields are refused: a head is checked exactly as signed.
func readHead(file string) (chain.Head, error) {
	var in io.Reader = os.Stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return chain.Head{}, err
		}
		defer f.Close()
		in = f
	}
	dec := json.NewDecoder(in)
	dec.DisallowUnknownFields()
	var h chain.Head
	if err := dec.Decode(&h); err != nil {
		return chain.Head{}, fmt.Errorf("%s does not hold a signed head: %w", file, err)
	}
	return h, nil
}

func auditPublicKeyCmd(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("roster audit public-key", flag.ContinueOnError)
	fs.SetOutput(stderr)
	keyFlag := signingKeyFlag(fs)
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "roster audit public-key: unexpected arguments %v\n", fs.Args())
		return errUsage
	}
	key, err := signingKey(*keyFlag, getenv)
	if err != nil {
		return err
	}
	if key == nil {
		return errors.New("signing key not configured: set ROSTER_AUDIT_SIGNING_KEY")
	}
	signer, err := chain.NewSigner(key, nil)
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(signer.Key())
}
