package broker_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// natsServer is a nats-server process with JetStream, owned by one test.
type natsServer struct {
	tb       testing.TB
	bin      string
	port     int
	storeDir string
	cmd      *exec.Cmd
	out      *syncBuffer
}

// natsBinary finds nats-server on PATH or where Debian installs it.
func natsBinary() string {
	if p, err := exec.LookPath("nats-server"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/nats-server"); err == nil {
		return "/usr/sbin/nats-server"
	}
	return ""
}

// mustStartNATS starts a private nats-server with JetStream on a free port
// with its store in a temporary directory, and stops it when tb ends. It
// skips tb when there is no nats-server binary.
func mustStartNATS(tb testing.TB) *natsServer {
	tb.Helper()
	bin := natsBinary()
	if bin == "" {
		tb.Skip("this test restarts its own broker and needs the nats-server binary (apt-get install nats-server, or make test)")
	}
	s := &natsServer{tb: tb, bin: bin, port: freePort(tb), storeDir: tb.TempDir()}
	s.start()
	tb.Cleanup(s.stop)
	return s
}

// natsURL is the server a test publishes to: ROSTER_TEST_NATS_URL when set
// (make test exports it), else a private server; it skips tb only when
// there is neither.
func natsURL(tb testing.TB) string {
	tb.Helper()
	if u := os.Getenv("ROSTER_TEST_NATS_URL"); u != "" {
		return u
	}
	if natsBinary() == "" {
		tb.Skip("no NATS server: set ROSTER_TEST_NATS_URL or install nats-server (make test does both)")
	}
	return mustStartNATS(tb).URL()
}

func (s *natsServer) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", s.port) }

func (s *natsServer) start() {
	s.tb.Helper()
	s.out = &syncBuffer{}
	s.cmd = exec.Command(s.bin, "-js", "-a", "127.0.0.1", "-p", strconv.Itoa(s.port), "-sd", s.storeDir)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		s.tb.Fatalf("start nats-server: %v", err)
	}
	// Bounded wait until it serves JetStream requests.
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := pingJetStream(s.URL())
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.stop()
			s.tb.Fatalf("nats-server on port %d not ready after 20s: %v\n%s", s.port, err, s.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop ends the server gracefully (SIGTERM) and waits for it, killing it
// after a bounded wait. It does nothing when the server is not running.
func (s *natsServer) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	cmd := s.cmd
	s.cmd = nil
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

func (s *natsServer) restart() {
	s.tb.Helper()
	s.stop()
	s.start()
}

func pingJetStream(url string) error {
	nc, err := nats.Connect(url, nats.Timeout(time.Second))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err = js.AccountInfo(ctx)
	return err
}

func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// uniqueNames gives a test its own stream and subject prefix, so tests can
// share one server (and a server that already holds Roster's stream).
func uniqueNames(tb testing.TB) (stream, prefix string) {
	tb.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	id := hex.EncodeToString(b)
	return "ROSTER_TEST_" + id, "rostertest" + id
}

// streamMessages reads every message of stream, in stream order.
func streamMessages(tb testing.TB, url, stream string) []*jetstream.RawStreamMsg {
	tb.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		tb.Fatalf("stream %s: %v", stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		tb.Fatalf("stream info: %v", err)
	}
	var msgs []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			tb.Fatalf("get message %d: %v", seq, err)
		}
		msgs = append(msgs, m)
	}
	return msgs
}

// deleteStreamAtEnd removes a test's stream from a shared server.
func deleteStreamAtEnd(tb testing.TB, url, stream string) {
	tb.Cleanup(func() {
		nc, err := nats.Connect(url)
		if err != nil {
			return
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = js.DeleteStream(ctx, stream)
	})
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
