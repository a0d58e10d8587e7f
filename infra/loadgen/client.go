package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/rosterhq/roster/infra/auth"
	"github.com/rosterhq/roster/infra/eventstore"
)

// client speaks Roster's HTTP API the way a dashboard does: JSON bodies,
// bearer tokens, kept-alive connections.
type client struct {
	base string
	http *http.Client
	// urls are the URLs of the first maxURLs paths asked without a query,
	// parsed once: the tool shares the cores with the server it measures,
	// so what it does per request is kept to sending it and reading the
	// answer.
	urls  sync.Map
	nURLs atomic.Int64
}

// maxURLs bounds the parsed URLs a client keeps: the scenarios ask a few
// paths over and over, the seeding thousands once each.
const maxURLs = 1024

// maxConns is the idle connections kept per host: every worker of the
// largest scenario (32 clients plus the lag samplers and the paced reader's
// bursts) finds one waiting instead of paying a new TCP handshake, which
// would show as latency that is not Roster's.
const maxConns = 256

func newClient(base string) *client {
	tr := &http.Transport{
		Proxy:               nil, // a benchmark measures Roster, not a proxy the environment names
		MaxIdleConns:        maxConns,
		MaxIdleConnsPerHost: maxConns,
		IdleConnTimeout:     2 * time.Minute,
		DisableCompression:  true,
	}
	return &client{base: strings.TrimRight(base, "/"), http: &http.Client{Transport: tr, Timeout: time.Minute}}
}

func (c *client) close() { c.http.CloseIdleConnections() }

// answer is one exchange: the status, headers and body, how long it took,
// and its failure kind ("" when it succeeded; see Classify).
type answer struct {
	Status int
	Header http.Header
	Body   []byte
	Took   time.Duration
	Kind   string
}

// do sends one request; body is nil, JSON already encoded ([]byte), or a
// value sent as JSON; headers are name, value pairs. A write (any method but GET and HEAD) carries an
// Idempotency-Key: the one headers give, which a caller sending the same
// write again gives again (see newWriteKey), or a fresh one. It never
// returns an error: a failure is the answer's Kind, so callers count it.
func (c *client) do(ctx context.Context, method, path, token string, body any, headers ...string) answer {
	var rd io.Reader
	if raw, ok := body.([]byte); ok {
		rd = bytes.NewReader(raw)
	} else if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return answer{Kind: "encode: " + err.Error()}
		}
		rd = bytes.NewReader(raw)
	}
	u, err := c.url(path)
	if err != nil {
		return answer{Kind: "request: " + err.Error()}
	}
	req, err := http.NewRequestWithContext(ctx, method, "", rd)
	if err != nil {
		return answer{Kind: "request: " + err.Error()}
	}
	req.URL, req.Host = u, u.Host
	if body != nil {
		req.Header["Content-Type"] = jsonContentType
	}
	if token != "" {
		req.Header["Authorization"] = []string{"Bearer " + token}
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if method != http.MethodGet && method != http.MethodHead && req.Header.Get(idempotencyKey) == "" {
		req.Header.Set(idempotencyKey, newWriteKey())
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		return answer{Took: time.Since(start), Kind: Classify(0, nil, err)}
	}
	// Read to the end so the connection goes back to the pool.
	raw, err := readAll(resp)
	resp.Body.Close()
	a := answer{Status: resp.StatusCode, Header: resp.Header, Body: raw, Took: time.Since(start)}
	a.Kind = Classify(resp.StatusCode, raw, err)
	return a
}

// jsonContentType is the Content-Type of every body the tool sends,
// shared by its requests (the transport only reads it).
var jsonContentType = []string{"application/json"}[:1:1]

// url is base+path parsed, a copy for one request.
func (c *client) url(path string) (*url.URL, error) {
	if u, ok := c.urls.Load(path); ok {
		cp := *u.(*url.URL)
		return &cp, nil
	}
	u, err := url.Parse(c.base + path)
	if err != nil {
		return nil, err
	}
	// Paths with a query vary (cursors, filters): only the others are kept.
	if u.RawQuery == "" && c.nURLs.Add(1) <= maxURLs {
		c.urls.Store(path, u)
	}
	cp := *u
	return &cp, nil
}

// readAll reads resp's body in one buffer of its length when the server
// gave it, as it does for every answer of the access-check API.
func readAll(resp *http.Response) ([]byte, error) {
	if n := resp.ContentLength; n >= 0 && n <= 1<<20 {
		raw := make([]byte, n)
		if _, err := io.ReadFull(resp.Body, raw); err != nil {
			return raw, err
		}
		// Past the length is only the end, which lets the connection go back.
		if extra, err := io.ReadAll(resp.Body); err != nil || len(extra) > 0 {
			return append(raw, extra...), err
		}
		return raw, nil
	}
	return io.ReadAll(resp.Body)
}

// idempotencyKey is the header that makes a write sent twice land once.
const idempotencyKey = "Idempotency-Key"

// newWriteKey is the idempotency key of one logical write: every attempt
// at it sends the same, so a retry of a write whose answer was lost is
// answered with the first one's result instead of being refused (a bulk
// invite to addresses it invited already) or landing twice (a property
// created again).
func newWriteKey() string { return "bench-" + uuid.NewString() }

// get sends a GET with the headers given as name, value pairs.
func (c *client) get(ctx context.Context, path, token string, headers ...string) answer {
	return c.do(ctx, "GET", path, token, nil, headers...)
}

// listAll reads every page of the list at path, whose rows are under field,
// following next_cursor with the largest page the API gives (200). path
// may carry a query of its own. what names the list in an error.
func listAll[T any](ctx context.Context, c *client, path, field, token, what string) ([]T, error) {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	var all []T
	for cursor, pages := "", 0; ; pages++ {
		if pages == 100_000 {
			return nil, fmt.Errorf("%s: more than %d pages", what, pages)
		}
		p := path + sep + "limit=200"
		if cursor != "" {
			p += "&cursor=" + url.QueryEscape(cursor)
		}
		a := c.get(ctx, p, token)
		if a.Kind != "" {
			return nil, a.err(what)
		}
		var page map[string]json.RawMessage
		if err := a.decode(&page); err != nil {
			return nil, err
		}
		var rows []T
		if err := json.Unmarshal(page[field], &rows); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", what, field, err)
		}
		all = append(all, rows...)
		if err := json.Unmarshal(page["next_cursor"], &cursor); err != nil {
			return nil, fmt.Errorf("%s: next_cursor: %w", what, err)
		}
		if cursor == "" {
			return all, nil
		}
	}
}

// decode reads the answer's JSON body into v.
func (a answer) decode(v any) error {
	if err := json.Unmarshal(a.Body, v); err != nil {
		return fmt.Errorf("decode answer (status %d): %w", a.Status, err)
	}
	return nil
}

// err describes a failed answer for a setup step that cannot go on.
func (a answer) err(what string) error {
	detail := strings.TrimSpace(string(a.Body))
	if len(detail) > 300 {
		detail = detail[:300] + "..."
	}
	return fmt.Errorf("%s: %s %s", what, a.Kind, detail)
}

// position is the Roster-Position a command answered with.
func (a answer) position() (eventstore.Position, bool) {
	p, err := eventstore.ParsePosition(a.Header.Get("Roster-Position"))
	return p, err == nil
}

// stale reports whether a query gave up waiting for Roster-Min-Position.
func (a answer) stale() bool { return a.Header.Get("Roster-Consistency") == "stale" }

// commandAnswer is the part of every command's answer the bench reads.
type commandAnswer struct {
	PropertyID  string `json:"property_id"`
	Revision    uint64 `json:"revision"`
	Invitations []struct {
		ID    string `json:"id"`
		Email string `json:"email"`
	} `json:"invitations"`
}

// account is someone the bench acts as.
type account struct {
	ID, Email string
}

// tokens mints and caches bearer tokens with the server's HS256 secret
// (auth.Mint, the code behind `roster token`).
type tokens struct {
	secret, issuer, audience string
	ttl                      time.Duration

	mu    sync.Mutex
	cache map[account]string
}

func (t *tokens) token(a account) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tok, ok := t.cache[a]; ok {
		return tok, nil
	}
	tok, err := auth.Mint([]byte(t.secret), t.issuer, t.audience, a.ID, a.Email, true, t.ttl, time.Now())
	if err != nil {
		return "", err
	}
	if t.cache == nil {
		t.cache = map[account]string{}
	}
	t.cache[a] = tok
	return tok, nil
}

// mint signs a token without caching it: for the many one-off invitees of
// the seeding, whom nobody asks for twice.
func (t *tokens) mint(a account) (string, error) {
	return auth.Mint([]byte(t.secret), t.issuer, t.audience, a.ID, a.Email, true, t.ttl, time.Now())
}
