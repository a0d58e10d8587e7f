package mail

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// smtpdBin is the test SMTP server (internal/smtpd), built once by TestMain.
var smtpdBin string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "roster-mail-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	smtpdBin = filepath.Join(dir, "smtpd")
	build := exec.Command("go", "build", "-o", smtpdBin, "github.com/rosterhq/roster/infra/mail/internal/smtpd")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build the test SMTP server: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// waitLimit bounds every wait on the server process.
const waitLimit = 20 * time.Second

// smtpServer is one test SMTP server process. Restarting it keeps its port,
// its certificate and its mailbox directory.
type smtpServer struct {
	t       *testing.T
	dir     string // accepted messages
	certDir string // empty: no TLS at all
	addr    string // host:port, known after the first start
	flags   []string
	cmd     *exec.Cmd
	exited  chan struct{}
	stderr  *bytes.Buffer
}

// startSMTPServer starts the server with STARTTLS offered and flags; it is
// killed when the test ends.
func startSMTPServer(t *testing.T, flags ...string) *smtpServer {
	t.Helper()
	s := &smtpServer{t: t, dir: t.TempDir(), certDir: t.TempDir()}
	t.Cleanup(s.kill)
	s.start(flags...)
	return s
}

// startPlainSMTPServer starts a server that offers no TLS at all.
func startPlainSMTPServer(t *testing.T, flags ...string) *smtpServer {
	t.Helper()
	s := &smtpServer{t: t, dir: t.TempDir()}
	t.Cleanup(s.kill)
	s.start(flags...)
	return s
}

// start runs the server process with flags (replacing the previous ones)
// on the server's port, and waits until it listens.
func (s *smtpServer) start(flags ...string) {
	s.t.Helper()
	s.flags = flags
	ready := filepath.Join(s.t.TempDir(), "ready")
	addr := s.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	args := []string{"-addr", addr, "-ready", ready, "-dir", s.dir}
	if s.certDir != "" {
		args = append(args, "-cert-dir", s.certDir)
	}
	args = append(args, flags...)
	s.cmd = exec.Command(smtpdBin, args...)
	s.stderr = new(bytes.Buffer)
	s.cmd.Stderr = s.stderr
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start smtpd: %v", err)
	}
	exited := make(chan struct{})
	s.exited = exited
	cmd := s.cmd
	go func() { _ = cmd.Wait(); close(exited) }()

	deadline := time.Now().Add(waitLimit)
	for {
		if b, err := os.ReadFile(ready); err == nil {
			s.addr = string(b)
			return
		}
		select {
		case <-exited:
			s.t.Fatalf("smtpd %v exited before listening: %s", args, s.stderr)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("smtpd did not listen within %s: %s", waitLimit, s.stderr)
		}
	}
}

// kill ends the server process at once, as a crash would.
func (s *smtpServer) kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// restart kills the server and starts it again on the same port with flags.
func (s *smtpServer) restart(flags ...string) {
	s.t.Helper()
	s.kill()
	s.start(flags...)
}

// waitFor waits, bounded, until the server's directory holds file name.
func (s *smtpServer) waitFor(name string) {
	s.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		if _, err := os.Stat(filepath.Join(s.dir, name)); err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("smtpd wrote no %s within %s: %s", name, waitLimit, s.stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// received is one message the server accepted (internal/smtpd's Received).
type received struct {
	From string   `json:"from"`
	To   []string `json:"to"`
	TLS  bool     `json:"tls"`
	User string   `json:"user"`
	Data string   `json:"data"`
}

// received returns the messages accepted so far, in arrival order per
// server process.
func (s *smtpServer) received() []received {
	s.t.Helper()
	names, err := filepath.Glob(filepath.Join(s.dir, "msg-*.json"))
	if err != nil {
		s.t.Fatal(err)
	}
	slices.Sort(names)
	var out []received
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			s.t.Fatal(err)
		}
		var r received
		if err := json.Unmarshal(b, &r); err != nil {
			s.t.Fatalf("%s: %v", n, err)
		}
		out = append(out, r)
	}
	return out
}

// url is an smtp:// URL of the server with user and password (none when
// user is empty) and the query.
func (s *smtpServer) url(scheme, user, pass, query string) string {
	u := url.URL{Scheme: scheme, Host: s.addr, RawQuery: query}
	if user != "" {
		u.User = url.UserPassword(user, pass)
	}
	return u.String()
}

// tlsConfig trusts the server's self-signed certificate.
func (s *smtpServer) tlsConfig() *tls.Config {
	s.t.Helper()
	pem, err := os.ReadFile(filepath.Join(s.certDir, "cert.pem"))
	if err != nil {
		s.t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		s.t.Fatal("no certificate in cert.pem")
	}
	return &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
}

// sender returns an SMTPSender to the server through rawURL, trusting its
// certificate, with a test-sized timeout.
func (s *smtpServer) sender(rawURL string) *SMTPSender {
	s.t.Helper()
	c, err := ParseSMTPURL(rawURL)
	if err != nil {
		s.t.Fatalf("ParseSMTPURL: %v", err)
	}
	if s.certDir != "" {
		c.TLSConfig = s.tlsConfig()
	}
	c.Timeout = 10 * time.Second
	snd, err := NewSMTPSender(c, "Roster <roster@mail.example.com>")
	if err != nil {
		s.t.Fatalf("NewSMTPSender: %v", err)
	}
	return snd
}

// parsedMail is a received message, decoded.
type parsedMail struct {
	Header mail.Header
	// Subject is the decoded subject line.
	Subject string
	// Text and HTML are the decoded bodies of the alternative parts.
	Text, HTML string
}

func parseMail(t *testing.T, data string) parsedMail {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(data))
	if err != nil {
		t.Fatalf("read message: %v\n%s", err, data)
	}
	var dec mime.WordDecoder
	subject, err := dec.DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("decode subject: %v", err)
	}
	p := parsedMail{Header: msg.Header, Subject: subject}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("content type: %v", err)
	}
	if !strings.HasPrefix(mt, "multipart/") {
		p.Text = readBody(t, msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
		return p
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return p
		}
		if err != nil {
			t.Fatalf("next part: %v", err)
		}
		// multipart decodes quoted-printable itself and drops the header.
		body := readBody(t, part.Header.Get("Content-Transfer-Encoding"), part)
		switch ct, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type")); ct {
		case "text/plain":
			p.Text = body
		case "text/html":
			p.HTML = body
		}
	}
}

func readBody(t *testing.T, encoding string, r io.Reader) string {
	t.Helper()
	if strings.EqualFold(encoding, "base64") {
		r = base64.NewDecoder(base64.StdEncoding, r)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return strings.ReplaceAll(string(b), "\r\n", "\n")
}

// failingSender fails every send with err, counting the calls.
type failingSender struct {
	err   error
	calls int
}

func (f *failingSender) Send(context.Context, Message) error {
	f.calls++
	return f.err
}
