package dashboard

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/html"
)

func newPage(t *testing.T, c Config) *Page {
	t.Helper()
	p, err := New(c)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

func get(p *Page, path string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	p.ServeHTTP(w, req)
	return w
}

func TestEveryFileLeavesWithTheSecurityHeaders(t *testing.T) {
	p := newPage(t, Config{})
	paths := p.Paths()
	if !slices.Contains(paths, "/") || !slices.Contains(paths, "/accept") || !slices.Contains(paths, "/assets/app.js") {
		t.Fatalf("paths %v lack the page, the accept page or its script", paths)
	}
	for _, path := range paths {
		t.Run(path, func(t *testing.T) {
			w := get(p, path)
			if w.Code != http.StatusOK || w.Body.Len() == 0 {
				t.Fatalf("status %d with %d bytes", w.Code, w.Body.Len())
			}
			h := w.Header()
			csp := h.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
				}
			}
			for _, never := range []string{"unsafe-inline", "unsafe-eval", "*", "data:", "http:"} {
				if strings.Contains(csp, never) {
					t.Errorf("Content-Security-Policy %q allows %q", csp, never)
				}
			}
			want := map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
				"Cross-Origin-Opener-Policy": "same-origin", "Cache-Control": "no-cache"}
			for k, v := range want {
				if h.Get(k) != v {
					t.Errorf("%s = %q, want %q", k, h.Get(k), v)
				}
			}
			if ct := h.Get("Content-Type"); ct != contentTypes[extOf(path)] {
				t.Errorf("Content-Type %q, want %q", ct, contentTypes[extOf(path)])
			}
		})
	}
}

func extOf(path string) string {
	if !strings.HasPrefix(path, "/assets/") {
		return ".html"
	}
	return path[strings.LastIndex(path, "."):]
}

func TestTheBrowsersCopyIsRevalidated(t *testing.T) {
	p := newPage(t, Config{})
	first := get(p, "/assets/app.js")
	etag := first.Header().Get("ETag")
	if !regexp.MustCompile(`^"[0-9a-f]{32}"$`).MatchString(etag) {
		t.Fatalf("ETag %q is not a content hash", etag)
	}
	again := get(p, "/assets/app.js", "If-None-Match", etag)
	if again.Code != http.StatusNotModified || again.Body.Len() != 0 || again.Header().Get("Content-Security-Policy") == "" {
		t.Errorf("a current copy got %d with %d bytes (CSP %q), want an empty 304 with the headers",
			again.Code, again.Body.Len(), again.Header().Get("Content-Security-Policy"))
	}
	if stale := get(p, "/assets/app.js", "If-None-Match", `"0123"`); stale.Code != http.StatusOK {
		t.Errorf("a stale copy got %d, want 200", stale.Code)
	}
}

func TestThePageMayFetchFromTheProvidersTokenEndpointOnly(t *testing.T) {
	p := newPage(t, Config{ConnectTo: []string{"https://id.example.com/oauth/token", "https://id.example.com/other"}})
	csp := get(p, "/").Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "connect-src 'self' https://id.example.com;") {
		t.Errorf("Content-Security-Policy %q does not let the page reach the token endpoint's origin, once", csp)
	}
	for _, bad := range []string{"id.example.com/token", "javascript:alert(1)", "https://"} {
		if _, err := New(Config{ConnectTo: []string{bad}}); err == nil {
			t.Errorf("New accepted %q as a place to fetch from", bad)
		}
	}
}

func TestAPathThePageLacksIsNotServed(t *testing.T) {
	p := newPage(t, Config{})
	for _, path := range []string{"/assets/index.html", "/assets/missing.js", "/index.html", "/assets/", "/assets/../go.mod"} {
		if p.Serves(path) {
			t.Errorf("Serves(%q) = true", path)
		}
		if w := get(p, path); w.Code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, w.Code)
		}
	}
}

// TestThePageRunsNoInlineCodeAndLoadsNothingFromElsewhere reads the files
// as the browser would: markup with no inline script, style or handler,
// scripts that never write markup, and every reference a file of the page.
func TestThePageRunsNoInlineCodeAndLoadsNothingFromElsewhere(t *testing.T) {
	p := newPage(t, Config{})
	index := get(p, "/").Body.String()
	var refs []string
	z := html.NewTokenizer(strings.NewReader(index))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			if z.Err() != io.EOF {
				t.Fatal(z.Err())
			}
			break
		}
		tok := z.Token()
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		hasSrc := false
		for _, a := range tok.Attr {
			switch {
			case strings.HasPrefix(a.Key, "on"), a.Key == "style":
				t.Errorf("<%s %s=%q>: inline code or style", tok.Data, a.Key, a.Val)
			case a.Key == "src" || (a.Key == "href" && tok.Data == "link"):
				refs = append(refs, a.Val)
				hasSrc = hasSrc || a.Key == "src"
			}
		}
		if tok.Data == "script" && !hasSrc {
			t.Error("an inline <script>")
		}
		if tok.Data == "style" {
			t.Error("an inline <style>")
		}
	}
	importRe := regexp.MustCompile(`(?m)^import .* from '([^']+)';$`)
	urlRe := regexp.MustCompile(`url\("?([^")]+)"?\)`)
	for _, path := range p.Paths() {
		body := get(p, path).Body.String()
		switch extOf(path) {
		case ".js":
			for _, never := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "setAttribute('style'"} {
				if strings.Contains(body, never) {
					t.Errorf("%s uses %s", path, never)
				}
			}
			for _, m := range importRe.FindAllStringSubmatch(body, -1) {
				if !strings.HasPrefix(m[1], "./") {
					t.Errorf("%s imports %q from outside the page", path, m[1])
				}
				refs = append(refs, "/assets/"+strings.TrimPrefix(m[1], "./"))
			}
		case ".css":
			for _, m := range urlRe.FindAllStringSubmatch(body, -1) {
				refs = append(refs, m[1])
			}
		}
		if regexp.MustCompile(`https?://`).MatchString(strings.ReplaceAll(body, `xmlns="http://www.w3.org/2000/svg"`, "")) {
			t.Errorf("%s names an address elsewhere", path)
		}
	}
	for _, ref := range refs {
		if !p.Serves(ref) {
			t.Errorf("the page refers to %s, which it does not serve", ref)
		}
	}
	var unused []string
	for _, path := range p.Paths() {
		if strings.HasPrefix(path, "/assets/") && !slices.Contains(refs, path) {
			unused = append(unused, path)
		}
	}
	if diff := cmp.Diff([]string(nil), unused); diff != "" {
		t.Errorf("files nothing refers to (-want +got):\n%s", diff)
	}
}
