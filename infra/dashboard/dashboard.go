// Package dashboard is Roster's Property Members page: plain HTML, CSS and
// JavaScript modules embedded in the binary, built on the public API alone
// and served by infra/httpapi at /, /accept and /assets/.
//
// Nothing is built: the files in assets/ are what the browser runs. They
// load nothing from elsewhere, and every file leaves with a
// Content-Security-Policy that allows scripts, styles and images of the
// page's own origin only, so no markup that a user typed could ever run.
package dashboard

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"
)

//go:embed assets
var assets embed.FS

// indexFile is the page itself, served at each of pagePaths.
const indexFile = "index.html"

// pagePaths are the addresses of the page: the dashboard, and the page
// invitation mail links to.
var pagePaths = []string{"/", "/accept"}

// Config is what the page's headers depend on.
type Config struct {
	// ConnectTo are the URLs, besides the page's own origin, that the page
	// may fetch from: the OpenID provider's token endpoint. Only their
	// origins count.
	ConnectTo []string
}

// Page serves the dashboard's files. It is safe for concurrent use.
type Page struct {
	files   map[string]file // by URL path
	headers http.Header
}

type file struct {
	body        []byte
	contentType string
	etag        string
}

// New loads the embedded files. Its errors: a ConnectTo that is no absolute
// http(s) URL, or a file of a type the page does not serve.
func New(c Config) (*Page, error) {
	csp, err := contentSecurityPolicy(c.ConnectTo)
	if err != nil {
		return nil, err
	}
	p := &Page{files: map[string]file{}, headers: http.Header{}}
	p.headers.Set("Content-Security-Policy", csp)
	p.headers.Set("X-Content-Type-Options", "nosniff")
	// The accept page's address holds an invitation token.
	p.headers.Set("Referrer-Policy", "no-referrer")
	p.headers.Set("X-Frame-Options", "DENY")
	p.headers.Set("Cross-Origin-Opener-Policy", "same-origin")
	p.headers.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()")
	// Kept by the browser but revalidated each time, so a new binary's page
	// is seen at once and an unchanged one costs a 304.
	p.headers.Set("Cache-Control", "no-cache")

	err = fs.WalkDir(assets, "assets", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := assets.ReadFile(name)
		if err != nil {
			return err
		}
		ct, ok := contentTypes[path.Ext(name)]
		if !ok {
			return fmt.Errorf("dashboard: %s is of no type the page serves", name)
		}
		sum := sha256.Sum256(body)
		f := file{body: body, contentType: ct, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
		base := path.Base(name)
		if base == indexFile {
			for _, pp := range pagePaths {
				p.files[pp] = f
			}
			return nil
		}
		p.files["/assets/"+base] = f
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	return p, nil
}

// contentTypes are the types of the page's files, by extension.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
}

// contentSecurityPolicy allows the page's own scripts, styles and images,
// fetches to itself and to connectTo's origins, and nothing else: no
// inline script or style, no plugins, no framing by anyone.
func contentSecurityPolicy(connectTo []string) (string, error) {
	connect := []string{"'self'"}
	for _, raw := range connectTo {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return "", fmt.Errorf("dashboard: %q is not an http(s) URL the page could fetch from", raw)
		}
		if origin := u.Scheme + "://" + u.Host; !slices.Contains(connect, origin) {
			connect = append(connect, origin)
		}
	}
	return strings.Join([]string{
		"default-src 'none'",
		"script-src 'self'",
		"style-src 'self'",
		"img-src 'self'",
		"connect-src " + strings.Join(connect, " "),
		"form-action 'self'",
		"base-uri 'none'",
		"frame-ancestors 'none'",
	}, "; "), nil
}

// Serves reports whether the page has a file at the URL path p.
func (p *Page) Serves(urlPath string) bool {
	_, ok := p.files[urlPath]
	return ok
}

// ServeHTTP answers the file at r's path with the page's headers, or 304
// when the browser's copy is current. A path it does not serve is 404;
// httpapi asks Serves first, so its own 404 is what callers see.
func (p *Page) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f, ok := p.files[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	for k, v := range p.headers {
		h[k] = slices.Clone(v)
	}
	h.Set("Content-Type", f.contentType)
	h.Set("ETag", f.etag)
	// A zero time leaves Last-Modified out: the ETag is the validator.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
}

// Paths lists the URL paths the page serves, sorted.
func (p *Page) Paths() []string {
	out := make([]string, 0, len(p.files))
	for k := range p.files {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
