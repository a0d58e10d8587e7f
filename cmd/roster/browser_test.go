package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// The browser tests drive Debian's chromium through the DevTools protocol
// (chromedp). .ci/test.sh installs chromium when it is missing and sets
// ROSTER_REQUIRE_BROWSER=1, so under make test a missing browser fails the
// run; run alone (go test) they install it too where they can (as root,
// with apt-get), and otherwise say loudly that they were skipped and why.

// chromiumPath finds the browser: ROSTER_TEST_CHROMIUM, else chromium on
// PATH or where Debian puts it.
func chromiumPath() (string, error) {
	if p := os.Getenv("ROSTER_TEST_CHROMIUM"); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "/usr/bin/chromium", "/usr/lib/chromium/chromium"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no chromium on PATH, in /usr/bin or /usr/lib/chromium")
}

// installChromium installs Debian's chromium (and a font for the page's
// text) with apt-get, once per test binary, where the tests run as root on
// a machine that has apt-get; .ci/test.sh does the same before the tests.
var installChromium = sync.OnceValue(func() error {
	if _, err := exec.LookPath("apt-get"); err != nil {
		return errors.New("there is no apt-get to install it with")
	}
	if os.Geteuid() != 0 {
		return errors.New("installing it needs root")
	}
	fmt.Fprintln(os.Stderr, "browser tests: installing chromium with apt-get")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	for _, args := range [][]string{{"update", "-qq"}, {"install", "-y", "-qq", "--no-install-recommends", "chromium", "fonts-dejavu-core"}} {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("apt-get %s: %v\n%s", args[0], err, tail(string(out), 10))
		}
	}
	return nil
})

// needBrowser is the path of chromium, installed first when it is missing
// and can be; else it skips the test, loudly, unless the run requires the
// browser tests (ROSTER_REQUIRE_BROWSER=1).
func needBrowser(t *testing.T) string {
	t.Helper()
	p, err := chromiumPath()
	if err == nil {
		return p
	}
	if ierr := installChromium(); ierr == nil {
		if p, err = chromiumPath(); err == nil {
			return p
		}
	} else {
		err = fmt.Errorf("%v, and it cannot be installed: %v", err, ierr)
	}
	msg := fmt.Sprintf("BROWSER TESTS NOT RUN: %v. Install Debian's chromium (apt-get install chromium), "+
		"or point ROSTER_TEST_CHROMIUM at a Chromium binary.", err)
	if os.Getenv("ROSTER_REQUIRE_BROWSER") == "1" {
		t.Fatal(msg)
	}
	fmt.Fprintln(os.Stderr, "\n*** "+msg+" ***")
	t.Skip(msg)
	return ""
}

// artifactDir is where a failing browser test leaves its screenshots:
// ROSTER_TEST_ARTIFACTS, else a fresh temporary directory, kept.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("ROSTER_TEST_ARTIFACTS")
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "roster-browser-"); err != nil {
			t.Fatal(err)
		}
	}
	dir = filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// startBrowser starts one headless chromium for the test, with a profile
// of its own, and stops it when the test ends.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	bin := needBrowser(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium (%s): %v", bin, err)
	}
	return ctx
}

// pageErrors collects, in the page, what a person would not see but must
// not happen: Content-Security-Policy violations and uncaught errors.
const pageErrors = `(() => {
  window.__problems = [];
  document.addEventListener('securitypolicyviolation', (e) => window.__problems.push('CSP blocked ' + e.violatedDirective + ' ' + e.blockedURI));
  window.addEventListener('error', (e) => window.__problems.push('error: ' + e.message));
  window.addEventListener('unhandledrejection', (e) => window.__problems.push('unhandled: ' + (e.reason && e.reason.message || e.reason)));
})();`

// person is one browser context (its own cookies and storage: another
// person) with one tab, and the helpers to use it by role and name.
type person struct {
	t    *testing.T
	name string
	ctx  context.Context
	// downloads is where the tab's downloads go.
	downloads string
}

// newPerson opens a tab in a new browser context of b.
func newPerson(t *testing.T, b context.Context, name string, artifacts string) *person {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	p := &person{t: t, name: name, ctx: ctx, downloads: t.TempDir()}
	// The first run opens the tab and binds it to the context it is given:
	// the person's own, not a step's, which ends with the step.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("%s: open a tab: %v", name, err)
	}
	p.do("watch for page errors", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: pageErrors})
		return err
	}))
	eventsOn := true
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: p.downloads,
		BrowserContextID: chromedp.FromContext(ctx).BrowserContextID, EventsEnabled: &eventsOn,
	}); err != nil {
		t.Fatalf("%s: allow downloads: %v", name, err)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		shotCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if png, err := chromedp.Run(shotCtx, chromedp.FullScreenshot(100)); err == nil {
			path := filepath.Join(artifacts, name+"-at-failure.png")
			if os.WriteFile(path, png, 0o644) == nil {
				t.Logf("%s's screen when the test failed: %s", name, path)
			}
		}
		if loc, err := chromedp.Run(shotCtx, chromedp.Location()); err == nil {
			t.Logf("%s was at %s", name, loc)
		}
	})
	return p
}

// stepTimeout bounds each step: a page that never shows what the test
// waits for fails the test rather than hanging it.
const stepTimeout = 20 * time.Second

// do runs a step. A node the page re-rendered between being found and being
// acted on (the lists refresh themselves) is found again, as a person whose
// click landed on a redrawn list would click again; every other error fails
// the test.
func (p *person) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	for {
		err := chromedp.Do(ctx, actions...)
		if err == nil {
			return
		}
		if !strings.Contains(err.Error(), "Could not find node with given id") || ctx.Err() != nil {
			p.t.Fatalf("%s: %s: %v", p.name, what, err)
		}
	}
}

// byRole finds elements by their accessible role and name, as a screen
// reader (and the page's users) know them, skipping hidden ones.
func byRole(role, name string) chromedp.QueryOption {
	return chromedp.ByFunc(func(ctx context.Context, t *chromedp.Target, n *chromedp.Node) ([]cdp.NodeID, error) {
		return axLookup(ctx, t, n, role, name)
	})
}

// nthByRole is byRole keeping the i-th match in document order: the rows
// of one form share their labels.
func nthByRole(role, name string, i int) chromedp.QueryOption {
	return chromedp.ByFunc(func(ctx context.Context, t *chromedp.Target, n *chromedp.Node) ([]cdp.NodeID, error) {
		ids, err := axLookup(ctx, t, n, role, name)
		if err != nil || len(ids) <= i {
			return nil, err
		}
		return ids[i : i+1], nil
	})
}

func axLookup(ctx context.Context, t *chromedp.Target, n *chromedp.Node, role, name string) ([]cdp.NodeID, error) {
	res, err := cdp.Call(ctx, t, accessibility.QueryAXTree, accessibility.QueryAXTreeParams{NodeID: n.NodeID, Role: role, AccessibleName: name})
	if err != nil {
		return nil, err
	}
	var backend []cdp.BackendNodeID
	for _, ax := range res.Nodes {
		if !ax.Ignored && ax.BackendDOMNodeID != 0 {
			backend = append(backend, ax.BackendDOMNodeID)
		}
	}
	if len(backend) == 0 {
		return nil, nil
	}
	pushed, err := cdp.Call(ctx, t, dom.PushNodesByBackendIDsToFrontend, dom.PushNodesByBackendIDsToFrontendParams{BackendNodeIDs: backend})
	if err != nil {
		return nil, err
	}
	return pushed.NodeIDs, nil
}

func label(role, name string) string { return fmt.Sprintf("%s %q", role, name) }

func (p *person) open(url string) {
	p.t.Helper()
	p.do("open "+url, chromedp.Navigate(url))
}

func (p *person) click(role, name string) {
	p.t.Helper()
	if role == "tab" {
		p.chooseTab(name)
		return
	}
	p.do("click "+label(role, name), chromedp.Click(label(role, name), byRole(role, name), chromedp.NodeVisible))
}

// chooseTab clicks the tab named name until the page has it selected. The
// click is a mouse event at the place the tab was found: when the page
// lays itself out again in between (a refresh after a command redraws the
// tabs), it can land where the tab no longer is, and a person whose click
// did nothing clicks again. What the tab then shows is asserted as before.
func (p *person) chooseTab(name string) {
	p.t.Helper()
	selected := fmt.Sprintf(`Array.from(document.querySelectorAll('[role=tab]')).some((b) => b.textContent === %q && b.getAttribute('aria-selected') === 'true')`, name)
	for deadline := time.Now().Add(stepTimeout); ; {
		p.do("click "+label("tab", name), chromedp.Click(label("tab", name), byRole("tab", name), chromedp.NodeVisible))
		for again := time.Now().Add(2 * time.Second); time.Now().Before(again); time.Sleep(50 * time.Millisecond) {
			var ok bool
			p.eval(selected, &ok)
			if ok {
				return
			}
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s: the tab %q is not selected after clicking it for %s", p.name, name, stepTimeout)
		}
	}
}

// fill empties the text box named name and types text, as a person would.
func (p *person) fill(name, text string) {
	p.t.Helper()
	p.fillNth(name, 0, text)
}

// fillNth fills the i-th text box named name (rows of one form share a
// label): it selects what the box holds and types over it.
func (p *person) fillNth(name string, i int, text string) {
	p.t.Helper()
	p.do(fmt.Sprintf("fill text box %q #%d", name, i+1),
		p.onNode("textbox", name, i, `function() { this.focus(); this.select(); }`, nil),
		chromedp.KeyEvent(text))
}

// onNode runs the JavaScript function fn on the i-th element with role and
// name, with arg (when not nil) as its argument.
func (p *person) onNode(role, name string, i int, fn string, arg any) chromedp.Action[chromedp.Void] {
	return chromedp.QueryAfter(label(role, name), func(ctx context.Context, t *chromedp.Target, nodes []*chromedp.Node) (chromedp.Void, error) {
		obj, err := cdp.Call(ctx, t, dom.ResolveNode, dom.ResolveNodeParams{NodeID: nodes[0].NodeID})
		if err != nil {
			return chromedp.Void{}, err
		}
		params := runtime.CallFunctionOnParams{ObjectID: obj.Object.ObjectID, FunctionDeclaration: fn}
		if arg != nil {
			params.Arguments = []*runtime.CallArgument{{Value: mustJSON(arg)}}
		}
		res, err := cdp.Call(ctx, t, runtime.CallFunctionOn, params)
		if err == nil && res.ExceptionDetails != nil {
			err = errors.New(res.ExceptionDetails.Text)
			if ex := res.ExceptionDetails.Exception; ex != nil && ex.Description != "" {
				err = errors.New(ex.Description)
			}
		}
		return chromedp.Void{}, err
	}, nthByRole(role, name, i), chromedp.NodeVisible)
}

// chooseNth picks the option labelled option in the i-th select named
// name, as a click on it would: the value changes and change fires.
func (p *person) chooseNth(name string, i int, option string) {
	p.t.Helper()
	p.do(fmt.Sprintf("choose %q in %q #%d", option, name, i+1), p.onNode("combobox", name, i, `function(label) {
		const o = Array.from(this.options).find((o) => o.textContent === label);
		if (!o) throw new Error('no option ' + label);
		this.focus();
		this.value = o.value;
		this.dispatchEvent(new Event('input', { bubbles: true }));
		this.dispatchEvent(new Event('change', { bubbles: true }));
	}`, option))
}

func (p *person) choose(name, option string) {
	p.t.Helper()
	p.chooseNth(name, 0, option)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func (p *person) waitFor(role, name string) {
	p.t.Helper()
	p.do("wait for "+label(role, name), chromedp.WaitVisible(label(role, name), byRole(role, name)))
}

func (p *person) key(what, keys string) {
	p.t.Helper()
	p.do(what, chromedp.KeyEvent(keys))
}

// count is how many elements the page exposes with role and name now.
func (p *person) count(role, name string) int {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	n, err := chromedp.Run(ctx, chromedp.Action[int](func(ctx context.Context, t *chromedp.Target) (int, error) {
		doc, err := cdp.Call(ctx, t, runtime.Evaluate, runtime.EvaluateParams{Expression: "document"})
		if err != nil {
			return 0, err
		}
		res, err := cdp.Call(ctx, t, accessibility.QueryAXTree, accessibility.QueryAXTreeParams{ObjectID: doc.Result.ObjectID, Role: role, AccessibleName: name})
		if err != nil {
			return 0, err
		}
		n := 0
		for _, ax := range res.Nodes {
			if !ax.Ignored {
				n++
			}
		}
		return n, nil
	}))
	if err != nil {
		p.t.Fatalf("%s: count %s: %v", p.name, label(role, name), err)
	}
	return n
}

// until waits until the JavaScript expression is true in the page.
func (p *person) until(what, expr string) {
	p.t.Helper()
	p.do("wait until "+what, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(stepTimeout), chromedp.WithPollingInterval(50*time.Millisecond))(ctx, t)
		return err
	}))
}

// eval runs expr in the page and decodes its value into out.
func (p *person) eval(expr string, out any) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](expr))
	if err == nil {
		err = json.Unmarshal(raw, out)
	}
	if err != nil {
		p.t.Fatalf("%s: evaluate %s: %v", p.name, expr, err)
	}
}

// rows are the texts of the cells of tab's table, row by row, once it has
// loaded.
func (p *person) rows(tab string) [][]string {
	p.t.Helper()
	p.until("the "+tab+" list has loaded", fmt.Sprintf(`document.querySelector('#tab-panel[aria-labelledby="tab-%s"] table[aria-busy="false"]') !== null`, tab))
	var out [][]string
	p.eval(`Array.from(document.querySelectorAll('#tab-panel tbody tr')).map((tr) => Array.from(tr.cells).map((td) => td.innerText.trim()))`, &out)
	return out
}

// problems are the CSP violations and uncaught errors the page has seen
// since it was last loaded.
func (p *person) problems() []string {
	p.t.Helper()
	var out []string
	p.eval(`window.__problems || []`, &out)
	return out
}

func (p *person) screenshot(path string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Fatalf("%s: screenshot: %v", p.name, err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// download waits for a file to arrive in the person's download directory
// and returns its name and content.
func (p *person) download(prefix string) (string, []byte) {
	p.t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for time.Now().Before(deadline) {
		entries, _ := os.ReadDir(p.downloads)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), prefix) && !strings.HasSuffix(e.Name(), ".crdownload") {
				b, err := os.ReadFile(filepath.Join(p.downloads, e.Name()))
				if err == nil && len(b) > 0 {
					return e.Name(), b
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.t.Fatalf("%s: no download starting with %q arrived", p.name, prefix)
	return "", nil
}

// exchange is one request the page made, as the proxy in front of the App
// saw it.
type exchange struct {
	Token, Method, Path, MinPosition, Position string
	Status                                     int
	// Stale is true when the read models had not reached MinPosition in
	// the server's wait.
	Stale bool
}

// pageProxy stands between the browser and the App: every exchange is
// checked against the OpenAPI document (as the other end-to-end tests'
// are) and recorded.
type pageProxy struct {
	mu        sync.Mutex
	exchanges []exchange
	base      http.RoundTripper
}

func (r *pageProxy) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	tok, _ := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
	r.mu.Lock()
	r.exchanges = append(r.exchanges, exchange{Token: tok, Method: req.Method, Path: req.URL.Path,
		MinPosition: req.Header.Get("Roster-Min-Position"), Position: resp.Header.Get("Roster-Position"), Status: resp.StatusCode,
		Stale: resp.Header.Get("Roster-Consistency") == "stale"})
	r.mu.Unlock()
	return resp, nil
}

func (r *pageProxy) recorded() []exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.exchanges)
}

// servePage starts the proxy on ln in front of the App at appBase.
func servePage(t *testing.T, ln net.Listener, appBase string) *pageProxy {
	t.Helper()
	target, err := url.Parse(appBase)
	if err != nil {
		t.Fatal(err)
	}
	rec := &pageProxy{base: validatingTransport(t, &http.Transport{})}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = r.In.Host
		},
		Transport: rec,
	}
	srv := &http.Server{Handler: proxy, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return rec
}
