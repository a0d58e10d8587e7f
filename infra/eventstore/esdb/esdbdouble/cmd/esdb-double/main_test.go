package main

import (
	"bufio"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"
)

// TestServesUntilInterrupted starts the command on a free port, talks to it
// with the official client through the connection string it prints, and
// stops it.
func TestServesUntilInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r, w := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-version", "23.10.0"}, w) }()
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	url := strings.TrimSpace(line)
	if !strings.HasPrefix(url, "esdb://127.0.0.1:") || !strings.HasSuffix(url, "?tls=false") {
		t.Fatalf("printed %q, want an insecure esdb:// connection string", url)
	}

	conf, err := esdb.ParseConnectionString(url)
	if err != nil {
		t.Fatal(err)
	}
	conf.Logger = esdb.NoopLogging()
	client, err := esdb.NewClient(conf)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	call, stop := context.WithTimeout(context.Background(), 30*time.Second)
	defer stop()
	if _, err := client.AppendToStream(call, "s", esdb.AppendToStreamOptions{ExpectedRevision: esdb.NoStream{}},
		esdb.EventData{EventID: uuid.New(), EventType: "Hello", ContentType: esdb.ContentTypeJson, Data: []byte(`{}`)}); err != nil {
		t.Fatalf("append: %v", err)
	}
	version, err := client.GetServerVersion()
	if err != nil || version.Major != 23 || version.Minor != 10 {
		t.Errorf("server version %+v, %v; want 23.10", version, err)
	}

	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
}
