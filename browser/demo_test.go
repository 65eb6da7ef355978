// Package browser checks the demo stack in a real browser: it runs `make demo-stack` (the README's
// `make demo`) on free ports, reads the URLs the demo prints, and loads them in headless Chromium
// (Debian's package; `make install-browser`) through the DevTools protocol: the exporter's landing
// page links to /metrics, Prometheus's alerts page lists the fixture's firing alert and the alerts
// of the demo's fault switches, the rules page lists the recording rules, and the graph pages of
// recorded series draw a chart with data. `make test-browser` runs it; with SCREENSHOTS=DIR it
// also saves the pages as PNG (`make screenshots`: docs/screenshots/).
package browser

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// demo is a running `make demo-stack` and what it printed.
type demo struct {
	urls map[string]string // by the label printed before them
	// The fault switches it printed.
	engineDown, engineUp string
	gpuLostFile          string
	dir                  string
}

// The pages the demo must print, by their labels.
const (
	labelExporter = "exporter"
	labelAlerts   = "Prometheus alerts"
	labelRules    = "Prometheus rules"
	labelDRAM     = "decode DRAM bandwidth per DP rank"
	labelLatency  = "SGLang P/D per-stage latency"
	labelIB       = "InfiniBand bytes received per pod"
)

var (
	urlLine    = regexp.MustCompile(`^\s+([^:]+):\s+(http://\S+)$`)
	engineLine = regexp.MustCompile(`^\s+decode engine down / up:\s+curl (\S+) ; curl (\S+)$`)
	gpuLine    = regexp.MustCompile(`^\s+GPU 6 lost / back:\s+touch (\S+) ; rm \S+$`)
)

// freePort is a TCP port nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// freeRange is the first of n consecutive free ports (the demo's engines).
func freeRange(t *testing.T, n int) int {
	t.Helper()
	for try := 0; try < 100; try++ {
		base := freePort(t)
		if base+n > 65535 {
			continue
		}
		var ls []net.Listener
		for p := base; p < base+n; p++ {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				break
			}
			ls = append(ls, l)
		}
		for _, l := range ls {
			l.Close()
		}
		if len(ls) == n {
			return base
		}
	}
	t.Fatalf("no %d consecutive free ports", n)
	return 0
}

// startDemo runs `make demo-stack` from the repository root with its own ports, directory and
// alert `for:` of 2s, and waits (up to 5 minutes: make may still compile) for what it prints.
// The whole process group is stopped at the end of the test, as Ctrl-C would.
func startDemo(t *testing.T) *demo {
	t.Helper()
	d := &demo{urls: map[string]string{}, dir: filepath.Join(t.TempDir(), "stack")}
	args := []string{"--no-print-directory", "demo-stack",
		fmt.Sprintf("DEMO_ADDR=127.0.0.1:%d", freePort(t)),
		fmt.Sprintf("STACK_PROM_ADDR=127.0.0.1:%d", freePort(t)),
		fmt.Sprintf("STACK_ENGINE_BASE=%d", freeRange(t, 4)),
		"STACK_ALERT_FOR=2s", "STACK_DEMO_DIR=" + d.dir}
	cmd := exec.Command("make", args...)
	cmd.Dir = ".."
	// Not the jobserver and flags of the make that runs this test.
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "MAKEFLAGS" && k != "MFLAGS" && k != "MAKELEVEL" && k != "MAKEOVERRIDES" {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	lines := make(chan string)
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			lines <- s.Text()
		}
		close(lines)
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		go func() {
			for range lines { // drain what the demo prints as it stops
			}
		}()
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			t.Errorf("the demo did not stop within 30s of SIGTERM; killing it")
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		if t.Failed() {
			for _, log := range []string{"exporter.log", "prometheus.log", "fake-engines.log"} {
				b, _ := os.ReadFile(filepath.Join(d.dir, log))
				t.Logf("%s (last 2000 bytes):\n%s", log, tail(b, 2000))
			}
		}
	})
	var printed []string
	deadline := time.After(5 * time.Minute)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("make demo-stack exited before printing its URLs:\n%s", strings.Join(printed, "\n"))
			}
			printed = append(printed, l)
			if m := urlLine.FindStringSubmatch(l); m != nil {
				d.urls[m[1]] = m[2]
			}
			if m := engineLine.FindStringSubmatch(l); m != nil {
				d.engineDown, d.engineUp = m[1], m[2]
			}
			if m := gpuLine.FindStringSubmatch(l); m != nil {
				d.gpuLostFile = m[1]
			}
			if strings.HasPrefix(l, "Ctrl-C stops everything") {
				for _, label := range []string{labelExporter, labelAlerts, labelRules, labelDRAM, labelLatency, labelIB} {
					if d.urls[label] == "" {
						t.Fatalf("the demo printed no %q URL:\n%s", label, strings.Join(printed, "\n"))
					}
				}
				if d.engineDown == "" || d.gpuLostFile == "" {
					t.Fatalf("the demo printed no engine or GPU fault switch:\n%s", strings.Join(printed, "\n"))
				}
				t.Logf("make demo-stack printed:\n%s", strings.Join(printed, "\n"))
				return d
			}
		case <-deadline:
			t.Fatalf("make demo-stack printed no URLs within 5 minutes:\n%s", strings.Join(printed, "\n"))
		}
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// newBrowser starts headless Chromium with the flags this machine's closed network needs (no
// background connections, no component updates) and a fresh profile.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	exe := os.Getenv("CHROMIUM")
	if exe == "" {
		exe = "/usr/bin/chromium"
	}
	if _, err := os.Stat(exe); err != nil {
		t.Fatalf("no Chromium at %s (%v): `make install-browser` installs Debian's chromium package", exe, err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox, // as root in CI
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", exe, err)
	}
	return ctx
}

// tab is a new tab of the browser, closed at the end of t, that gives up after d.
func tab(t *testing.T, browser context.Context, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	ctx, cancelTimeout := context.WithTimeout(ctx, d)
	t.Cleanup(func() { cancelTimeout(); cancel() })
	return ctx
}

// screenshot saves the tab's viewport as SCREENSHOTS/name.png when SCREENSHOTS is set.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// untilPage loads url and evaluates js (an expression returning a string) until accept takes
// its result or d passes; the page is loaded again every 3s, since the UI's pages query
// Prometheus when they load. It returns the last result, and whether it was accepted.
func untilPage(t *testing.T, ctx context.Context, url, js string, d time.Duration, accept func(string) bool) (string, bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	var last string
	for time.Now().Before(deadline) {
		if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
			t.Fatalf("%s: %v", url, err)
		}
		// Within one load, poll (the React app renders after its queries return).
		load := time.Now().Add(3 * time.Second)
		for time.Now().Before(load) {
			var err error
			if last, err = chromedp.Run(ctx, chromedp.Evaluate[string](js)); err != nil {
				t.Fatalf("%s: %v", url, err)
			}
			if accept(last) {
				return last, true
			}
			time.Sleep(200 * time.Millisecond) // the polling interval
		}
	}
	return last, false
}

// alertRuleJS finds the alerts page's entry of the alerting rule named name and returns its
// text ("LLMInfiniBandPortDown firing (1)"), or "" when the page does not list it.
func alertRuleJS(name string) string {
	return fmt.Sprintf(`(() => {
  const c = [...document.querySelectorAll('.mantine-Accordion-control')]
    .find(e => [...e.querySelectorAll('p')].some(p => p.textContent.trim() === %q));
  return c ? c.innerText.replace(/\s+/g, ' ').trim() : '';
})()`, name)
}

// firing: the entry carries the "firing (n)" badge (shown upper case).
func firing(text string) bool { return strings.Contains(strings.ToLower(text), "firing (") }

// alertsPage is the alerts page filtered to one rule.
func alertsPage(d *demo, name string) string { return d.urls[labelAlerts] + "?search=" + name }

func get(t *testing.T, url string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
}

func TestDemoInBrowser(t *testing.T) {
	d := startDemo(t)
	browser := newBrowser(t)

	t.Run("ExporterLandingPageLinksToMetrics", func(t *testing.T) {
		ctx := tab(t, browser, time.Minute)
		link := chromedp.CSS(`a[href$="/metrics"]`)
		if err := chromedp.Do(ctx, chromedp.Navigate(d.urls[labelExporter]), chromedp.WaitVisible(link)); err != nil {
			t.Fatalf("%s: no link to /metrics: %v", d.urls[labelExporter], err)
		}
		text, err := chromedp.Run(ctx, chromedp.Text(link))
		if err != nil {
			t.Fatal(err)
		}
		screenshot(t, ctx, "exporter")
		if err := chromedp.Do(ctx, chromedp.Click(link)); err != nil {
			t.Fatal(err)
		}
		// The click navigates: poll the new page until it is the metrics page, for 20s
		// (evaluating fails while the old page goes away).
		const js = `location.pathname + " " + (document.body ? document.body.innerText.includes("llm_gpu_up{") : false)`
		var page string
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && page != "/metrics true"; {
			page, _ = chromedp.Run(ctx, chromedp.Evaluate[string](js))
			time.Sleep(200 * time.Millisecond) // the polling interval
		}
		if page != "/metrics true" {
			t.Fatalf("following the landing page's link %q: no page with llm_gpu_up series (%q)", text, page)
		}
	})

	t.Run("RulesPageListsRecordingRules", func(t *testing.T) {
		ctx := tab(t, browser, 2*time.Minute)
		const rule = "namespace_pod:engine_stage_latency_seconds:mean1m"
		js := fmt.Sprintf(`document.body.innerText.includes(%q) ? 'listed' : ''`, rule)
		if got, ok := untilPage(t, ctx, d.urls[labelRules]+"?search="+rule, js, 60*time.Second, func(s string) bool { return s == "listed" }); !ok {
			t.Fatalf("%s does not list %s (%q)", d.urls[labelRules], rule, got)
		}
		screenshot(t, ctx, "rules")
	})

	t.Run("GraphsOfRecordedSeriesHaveData", func(t *testing.T) {
		if os.Getenv("SCREENSHOTS") != "" {
			// For the pictures, graphs of a few minutes rather than of the first seconds
			// (rate1m ramps up over the first minute of a series).
			waitHistory(t, strings.TrimSuffix(d.urls[labelAlerts], "/alerts"), 3*time.Minute)
		}
		for _, g := range []struct {
			label, screenshot string
			legend            string // a label value every legend must show
		}{
			{labelDRAM, "graph-decode-dram-bandwidth", `dp_rank="3"`},
			{labelLatency, "graph-stage-latency", `stage="decode_transferred"`},
			{labelIB, "graph-infiniband-per-pod", `pod="sglang-decode-0"`},
		} {
			t.Run(g.screenshot, func(t *testing.T) {
				ctx := tab(t, browser, 3*time.Minute)
				got, ok := untilPage(t, ctx, d.urls[g.label], chartJS, 2*time.Minute, func(s string) bool {
					var c chart
					return json.Unmarshal([]byte(s), &c) == nil && c.hasData(g.legend)
				})
				if !ok {
					t.Fatalf("%s: no chart with data: %s", d.urls[g.label], got)
				}
				screenshot(t, ctx, g.screenshot)
			})
		}
	})

	// Last: it switches the demo's faults on (and off again).
	t.Run("AlertsPageListsFiringAlerts", func(t *testing.T) {
		ctx := tab(t, browser, 4*time.Minute)
		// The fixture's DOWN mlx5_3 fires from the start.
		const portDown = "LLMInfiniBandPortDown"
		if got, ok := untilPage(t, ctx, alertsPage(d, portDown), alertRuleJS(portDown), 90*time.Second, firing); !ok {
			t.Fatalf("%s: %s is not listed as firing (the page shows %q)", d.urls[labelAlerts], portDown, got)
		}
		// The page tells firing from not firing: before the faults, the GPU and engine
		// alerts are listed and not firing.
		for _, name := range []string{"LLMGPULost", "LLMEngineDown"} {
			got, ok := untilPage(t, ctx, alertsPage(d, name), alertRuleJS(name), 30*time.Second, func(s string) bool { return s != "" })
			if !ok || firing(got) {
				t.Fatalf("before the faults, %s should be listed and not firing; the page shows %q", name, got)
			}
		}
		// The printed fault switches: GPU 6 lost, the decode engine down.
		if err := os.WriteFile(d.gpuLostFile, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		get(t, d.engineDown)
		for _, name := range []string{"LLMGPULost", "LLMEngineDown"} {
			if got, ok := untilPage(t, ctx, alertsPage(d, name), alertRuleJS(name), 90*time.Second, firing); !ok {
				t.Fatalf("after the fault, %s is not listed as firing (the page shows %q)", name, got)
			}
		}
		// All firing alerts, the port's opened to show its labels.
		if got, ok := untilPage(t, ctx, d.urls[labelAlerts]+"?state=firing", alertRuleJS(portDown), 30*time.Second, firing); !ok {
			t.Fatalf("the firing alerts do not list %s: %q", portDown, got)
		}
		if err := chromedp.Do(ctx,
			chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`[...document.querySelectorAll('.mantine-Accordion-control')]
  .find(e => e.innerText.includes(%q)).click()`, portDown)),
			chromedp.Poll[chromedp.Void](`[...document.querySelectorAll('.mantine-Accordion-panel')].map(p => p.innerText).join(' ').includes('device="mlx5_3"')`,
				chromedp.WithPollingTimeout(10*time.Second)),
		); err != nil {
			t.Fatalf("opening %s: its alert for device mlx5_3 is not shown: %v", portDown, err)
		}
		// The entry opens with a transition: the picture waits for it to end.
		if err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](`document.getAnimations().length === 0`,
			chromedp.WithPollingTimeout(10*time.Second))); err != nil {
			t.Fatalf("the alerts page is still animating: %v", err)
		}
		screenshot(t, ctx, "alerts")
		if err := os.Remove(d.gpuLostFile); err != nil {
			t.Fatal(err)
		}
		get(t, d.engineUp)
	})
}

// waitHistory polls Prometheus (at prom) until it has scraped the exporter for d, for at most
// d plus two minutes.
func waitHistory(t *testing.T, prom string, d time.Duration) {
	t.Helper()
	// A sample d ago: the series is at least d old.
	q := fmt.Sprintf(`up{job="llm-node-exporter"} offset %ds`, int(d.Seconds()))
	deadline := time.Now().Add(d + 2*time.Minute)
	for time.Now().Before(deadline) {
		resp, err := http.Get(prom + "/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			t.Fatal(err)
		}
		var r struct {
			Data struct {
				Result []json.RawMessage `json:"result"`
			} `json:"data"`
		}
		err = json.NewDecoder(resp.Body).Decode(&r)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Data.Result) > 0 {
			return
		}
		time.Sleep(time.Second) // the polling interval
	}
	t.Fatalf("Prometheus has no %s of history within %s", d, d+2*time.Minute)
}

// chart is what chartJS reads off a graph page.
type chart struct {
	Problem string   `json:"problem"` // the page's error or empty-result message
	Pixels  int      `json:"pixels"`  // pixels of the plot drawn in a series colour
	Legend  []string `json:"legend"`  // the legend's series
}

// hasData: no error or "no data" message, a legend naming the series, and lines drawn: the
// series' colours are saturated, the axes and the grid grey, so a chart of series without
// values (NaN) has none.
func (c chart) hasData(legend string) bool {
	if c.Problem != "" || c.Pixels < 500 || len(c.Legend) == 0 {
		return false
	}
	for _, l := range c.Legend {
		if strings.Contains(l, legend) {
			return true
		}
	}
	return false
}

const chartJS = `(() => {
  const text = document.body.innerText;
  for (const p of ['Error executing query', 'Empty query result', 'No data queried yet']) {
    if (text.includes(p)) return JSON.stringify({problem: p});
  }
  const canvas = document.querySelector('.uplot canvas');
  if (!canvas) return JSON.stringify({problem: 'no chart on the page'});
  const px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let pixels = 0;
  for (let i = 0; i < px.length; i += 4) {
    const hi = Math.max(px[i], px[i+1], px[i+2]), lo = Math.min(px[i], px[i+1], px[i+2]);
    if (px[i+3] > 0 && hi - lo > 80) pixels++;
  }
  const legend = [...document.querySelectorAll('.u-legend .u-series')]
    .map(e => e.innerText.trim()).filter(s => s.includes('{'));
  return JSON.stringify({pixels, legend});
})()`
