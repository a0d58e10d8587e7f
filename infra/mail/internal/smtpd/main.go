// Command smtpd is the SMTP server the mail tests start as a separate
// process: it stores every accepted message as a JSON file in a directory,
// and its flags make it offer STARTTLS or implicit TLS, require AUTH PLAIN,
// refuse recipients or messages, stall inside DATA until killed, or hold
// each message inside DATA until the test lets it through.
//
// It is a test fixture, not a mail server: it relays nothing.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Received is one accepted message, as written to the -dir directory.
type Received struct {
	From string   `json:"from"`
	To   []string `json:"to"`
	// TLS tells whether the session was encrypted when the message came.
	TLS bool `json:"tls"`
	// User is who authenticated, empty without AUTH.
	User string `json:"user"`
	Data string `json:"data"`
}

type options struct {
	dir               string
	user, pass        string
	refuseRcpt        int
	refuseData        int
	stallData         bool
	hold              string
	allowInsecureAuth bool
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("smtpd: ")
	var (
		o           options
		addr        = flag.String("addr", "127.0.0.1:0", "`host:port` to listen on")
		ready       = flag.String("ready", "", "`file` to write the listening address to once listening")
		certDir     = flag.String("cert-dir", "", "`dir` holding cert.pem and key.pem, generated when missing; enables TLS")
		implicitTLS = flag.Bool("implicit-tls", false, "speak TLS from the first byte (smtps) instead of offering STARTTLS")
	)
	flag.StringVar(&o.dir, "dir", "", "`dir` to store accepted messages in (required)")
	flag.StringVar(&o.user, "user", "", "require AUTH PLAIN with this `user`")
	flag.StringVar(&o.pass, "pass", "", "the `password` of -user")
	flag.IntVar(&o.refuseRcpt, "refuse-rcpt", 0, "refuse every RCPT with this `code` (e.g. 550, 451)")
	flag.IntVar(&o.refuseData, "refuse-data", 0, "refuse every message at the end of DATA with this `code`")
	flag.BoolVar(&o.stallData, "stall-data", false, "read the message, write a file named stalled, then never answer")
	flag.StringVar(&o.hold, "hold", "", "read each message, write a file named holding, and store and accept it only once `file` exists")
	flag.BoolVar(&o.allowInsecureAuth, "allow-insecure-auth", false, "offer AUTH without TLS")
	flag.Parse()
	if o.dir == "" {
		log.Fatal("-dir is required")
	}

	s := smtp.NewServer(&backend{o: o})
	s.Domain = "localhost"
	s.AllowInsecureAuth = o.allowInsecureAuth
	s.ReadTimeout = time.Minute
	s.WriteTimeout = time.Minute
	s.MaxMessageBytes = 1 << 20
	s.ErrorLog = log.Default()

	var tlsConfig *tls.Config
	if *certDir != "" {
		cert, err := loadOrCreateCert(*certDir)
		if err != nil {
			log.Fatal(err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	var l net.Listener
	var err error
	if *implicitTLS {
		if tlsConfig == nil {
			log.Fatal("-implicit-tls needs -cert-dir")
		}
		l, err = tls.Listen("tcp", *addr, tlsConfig)
	} else {
		s.TLSConfig = tlsConfig
		l, err = net.Listen("tcp", *addr)
	}
	if err != nil {
		log.Fatal(err)
	}
	if *ready != "" {
		if err := writeFileAtomic(*ready, []byte(l.Addr().String())); err != nil {
			log.Fatal(err)
		}
	}
	if err := s.Serve(l); err != nil && !errors.Is(err, smtp.ErrServerClosed) {
		log.Fatal(err)
	}
}

type backend struct {
	o     options
	count atomic.Int64
}

func (b *backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{b: b, conn: c}, nil
}

type session struct {
	b    *backend
	conn *smtp.Conn
	user string
	from string
	to   []string
}

var _ smtp.AuthSession = (*session)(nil)

func (s *session) AuthMechanisms() []string {
	if s.b.o.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != s.b.o.user || pass != s.b.o.pass {
			return smtp.ErrAuthFailed
		}
		s.user = user
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.b.o.user != "" && s.user == "" {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "authentication required"}
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if c := s.b.o.refuseRcpt; c != 0 {
		return refusal(c, "recipient refused by test flag")
	}
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if s.b.o.stallData {
		if err := writeFileAtomic(filepath.Join(s.b.o.dir, "stalled"), nil); err != nil {
			return err
		}
		select {} // until the test kills the process
	}
	if s.b.o.hold != "" {
		// Sessions held at once write the same empty file: no rename.
		if err := os.WriteFile(filepath.Join(s.b.o.dir, "holding"), nil, 0o600); err != nil {
			return err
		}
		for {
			if _, err := os.Stat(s.b.o.hold); err == nil {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if c := s.b.o.refuseData; c != 0 {
		return refusal(c, "message refused by test flag")
	}
	_, isTLS := s.conn.TLSConnectionState()
	rec, err := json.Marshal(Received{From: s.from, To: s.to, TLS: isTLS, User: s.user, Data: string(data)})
	if err != nil {
		return err
	}
	name := fmt.Sprintf("msg-%d-%06d.json", os.Getpid(), s.b.count.Add(1))
	return writeFileAtomic(filepath.Join(s.b.o.dir, name), rec)
}

func (s *session) Reset()        { s.from, s.to = "", nil }
func (s *session) Logout() error { return nil }

// refusal is an SMTP error with code and a matching enhanced code.
func refusal(code int, msg string) *smtp.SMTPError {
	class := code / 100
	return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{class, 1, 1}, Message: msg}
}

// writeFileAtomic writes via a temporary file and a rename, so a reader
// never sees half a file.
func writeFileAtomic(name string, data []byte) error {
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}

// loadOrCreateCert loads dir's cert.pem and key.pem, or creates a self-signed
// certificate for 127.0.0.1, ::1 and localhost there, so a restarted server
// presents the same certificate.
func loadOrCreateCert(dir string) (tls.Certificate, error) {
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if cert, err := tls.LoadX509KeyPair(certFile, keyFile); err == nil {
		return cert, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "roster test smtpd"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := writeFileAtomic(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})); err != nil {
		return tls.Certificate{}, err
	}
	if err := writeFileAtomic(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})); err != nil {
		return tls.Certificate{}, err
	}
	return tls.LoadX509KeyPair(certFile, keyFile)
}
