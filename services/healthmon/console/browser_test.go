package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobs"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobstate"
	"github.com/insightpulse/pulsehub/services/healthmon/ops"
)

// ScreenshotsEnv names a directory for the browser test's screenshots;
// without it they go to the test's temporary directory (and are logged).
const ScreenshotsEnv = "PULSEHUB_CONSOLE_SCREENSHOTS"

// browser starts Debian's chromium, headless, with a fresh profile. A
// machine without it fails the test: CI installs it (.ci/run), and a
// skipped browser test would hide a broken console.
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("the console's browser test needs Debian's chromium: apt-get install -y chromium (.ci/run installs it): %v", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

func screenshotDir(t *testing.T) string {
	dir := os.Getenv(ScreenshotsEnv)
	if dir == "" {
		dir = filepath.Join(t.TempDir(), "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

// run runs browser actions with a deadline, failing the test with what
// it was doing.
func run(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("browser: %s: %v", what, err)
	}
}

// value runs one action that returns a value.
func value[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("browser: %s: %v", what, err)
	}
	return v
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return value(t, ctx, "read "+sel, chromedp.Text(chromedp.CSS(sel)))
}

func shot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	png := value(t, ctx, "screenshot "+name, chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestAnOperatorFixesADeadJobInTheBrowser(t *testing.T) {
	h := startHub(t, nil)
	ctx := browser(t)
	dir := screenshotDir(t)

	// A few jobs that work, and one the service refuses (422): dead at once.
	for i := range 12 {
		id := h.enqueue(t, "summarize", jobs.Job{Payload: []byte(fmt.Sprintf(`{"page": %d}`, i)), Description: fmt.Sprintf("summary of page %d", i)})
		h.waitState(t, id, jobstate.Done)
	}
	dead := h.publishRaw(t, "extract", `{"payload": {"invoice": "INV/2026/0042", "note": "<script>alert('x')</script>"}, "description": "OCR of INV/2026/0042"}`)
	h.waitState(t, dead, jobstate.Dead)
	natstest.WaitFor(t, wait, "the monitor to see route jobs-ocr", func() bool {
		_, body := h.client(t).get("/status.json")
		return strings.Contains(strings.ReplaceAll(body, " ", ""), `"route":"jobs-ocr"`)
	})

	// Logging in from any page leads back to it.
	var got string
	run(t, ctx, "open the console", chromedp.Navigate(h.base+"/console/"), chromedp.WaitVisible(chromedp.CSS("#login")))
	shot(t, ctx, dir, "01-login")
	run(t, ctx, "log in",
		chromedp.SendKeys(chromedp.CSS("#user-field"), operator), chromedp.SendKeys(chromedp.CSS("#password-field"), password),
		chromedp.Click(chromedp.CSS("#login-button")), chromedp.WaitVisible(chromedp.CSS("#overall")))
	got = text(t, ctx, "#user")
	if got != operator {
		t.Fatalf("logged in as %q", got)
	}
	shot(t, ctx, dir, "02-overview")

	// Filter the jobs: only the dead one is left.
	run(t, ctx, "filter the jobs",
		chromedp.Navigate(h.base+"/console/jobs"), chromedp.WaitVisible(chromedp.CSS("#jobs")),
		chromedp.SetValue(chromedp.CSS("#f-state"), "dead"), chromedp.Click(chromedp.CSS("#f-apply")),
		// the filtered page: its server-rendered choice (SetValue only set the property)
		chromedp.WaitReady(chromedp.CSS(`#f-state option[value="dead"][selected]`)))
	got = text(t, ctx, "#count")
	if !strings.HasPrefix(got, "1 of 13 jobs") {
		t.Fatalf("after filtering on dead: %q", got)
	}
	rows := value(t, ctx, "read the rows", chromedp.Evaluate[[]string](`[...document.querySelectorAll('#jobs tbody tr')].map(r => r.dataset.state)`))
	if len(rows) != 1 || rows[0] != "dead" {
		t.Fatalf("rows %v", rows)
	}
	shot(t, ctx, dir, "03-jobs-filtered")
	run(t, ctx, "open the job", chromedp.Click(chromedp.CSS(`#jobs a[href="/console/jobs/`+dead+`"]`)), chromedp.WaitVisible(chromedp.CSS("#last-error")))
	got = text(t, ctx, "#last-error")
	if !strings.Contains(got, "<script>alert(1)</script>") {
		t.Fatalf("the service's error is not shown as text: %q", got)
	}
	shot(t, ctx, dir, "04-job-dead")

	// Its dead letter: open it, requeue it once the service is fixed.
	letters, err := ops.ListDLQ(context.Background(), h.js, "jobs-ocr", 0)
	if err != nil || len(letters) != 1 {
		t.Fatalf("dead letters: %v %v", letters, err)
	}
	seq := fmt.Sprint(letters[0].Seq)
	run(t, ctx, "list the dead letters", chromedp.Navigate(h.base+"/console/dlq"), chromedp.WaitVisible(chromedp.CSS("#letters")))
	shot(t, ctx, dir, "05-dead-letters")
	run(t, ctx, "ask to purge the route", chromedp.Click(chromedp.CSS(`#dlq-routes a[href="/console/dlq/route/jobs-ocr/purge"]`)),
		chromedp.WaitVisible(chromedp.CSS("#confirm")))
	shot(t, ctx, dir, "05b-confirm-purge")
	run(t, ctx, "back to the dead letters", chromedp.Navigate(h.base+"/console/dlq"), chromedp.WaitVisible(chromedp.CSS("#letters")))
	run(t, ctx, "open the dead letter", chromedp.Click(chromedp.CSS(`#letters a[href="/console/dlq/`+seq+`"]`)), chromedp.WaitVisible(chromedp.CSS("#reason")))
	got = text(t, ctx, "#payload")
	if !strings.Contains(got, "INV/2026/0042") || !strings.Contains(got, "<script>alert('x')</script>") {
		t.Fatalf("the dead letter's payload: %q", got)
	}
	shot(t, ctx, dir, "06-dead-letter")
	h.ocr.status.Store(200)
	run(t, ctx, "requeue it", chromedp.Click(chromedp.CSS("#requeue")), chromedp.WaitVisible(chromedp.CSS("#notice")))
	got = text(t, ctx, "#notice")
	if !strings.Contains(got, "requeued dead letter "+seq) || !strings.Contains(got, "correlation id") {
		t.Fatalf("after requeueing: %q", got)
	}
	h.waitState(t, dead, jobstate.Done)
	run(t, ctx, "see the job done", chromedp.Navigate(h.base+"/console/jobs/"+dead), chromedp.WaitVisible(chromedp.CSS("#result")))
	got = text(t, ctx, "#job-state")
	if got != "done" {
		t.Fatalf("job state on its page: %q", got)
	}
	shot(t, ctx, dir, "07-job-done")

	// Routes: the sparkline, and a replay's dry run before it runs.
	run(t, ctx, "open the routes", chromedp.Navigate(h.base+"/console/routes"), chromedp.WaitVisible(chromedp.CSS(`tr[data-route="jobs-ocr"] svg.spark`)))
	shot(t, ctx, dir, "08-routes")
	run(t, ctx, "dry-run a replay",
		chromedp.SendKeys(chromedp.CSS(`tr[data-route="jobs-ocr"] input[name="since"]`), "1h"),
		chromedp.Click(chromedp.CSS(`tr[data-route="jobs-ocr"] button`)), chromedp.WaitVisible(chromedp.CSS("#plan")))
	got = text(t, ctx, "#plan")
	if !strings.Contains(got, "Would deliver") {
		t.Fatalf("dry run: %q", got)
	}
	shot(t, ctx, dir, "09-replay-dry-run")

	// A POST without the CSRF token, from the logged-in browser itself, is
	// refused. (The CSP forbids fetch, so the page's own form is stripped
	// of its token and sent.)
	run(t, ctx, "open the job", chromedp.Navigate(h.base+"/console/jobs/"+dead), chromedp.WaitVisible(chromedp.CSS("#requeue")))
	if n := value(t, ctx, "strip the token", chromedp.Evaluate[int](`(() => { const i = document.querySelectorAll('form input[name="csrf"]'); i.forEach(e => e.remove()); return i.length })()`)); n == 0 {
		t.Fatal("no CSRF field to strip")
	}
	run(t, ctx, "post without the token", chromedp.Click(chromedp.CSS("#requeue")), chromedp.WaitVisible(chromedp.CSS("#error")))
	if got = text(t, ctx, "#error"); !strings.Contains(got, "CSRF token is missing or wrong") {
		t.Fatalf("POST without the CSRF token: %q", got)
	}
	shot(t, ctx, dir, "10-csrf-refused")
	if r, _ := jobs.Get(context.Background(), h.js, dead); r.State != jobstate.Done {
		t.Fatalf("the refused POST changed the job: %s", r.State)
	}

	// A job graph whose OCR node failed for good: its page draws the graph,
	// blocked, with the waiting node and the graph's actions.
	h.ocr.status.Store(422)
	g, err := jobs.EnqueueGraph(context.Background(), h.js, jobs.Graph{Name: "expense", Nodes: map[string]jobs.Node{
		"pages":  {Service: "ocr", Task: "summarize", Job: jobs.Job{Payload: json.RawMessage(`{"expense": 7}`)}},
		"ocr":    {Service: "ocr", Task: "extract", PayloadFrom: ".parents.pages.response"},
		"book":   {Service: "ocr", Task: "summarize", PayloadFrom: ".parents.ocr.response"},
		"notify": {Service: "ocr", Task: "summarize", PayloadFrom: ".parents.pages.response"},
	}, Edges: [][2]string{{"pages", "ocr"}, {"ocr", "book"}, {"pages", "notify"}}}, jobs.GraphLimits{})
	if err != nil {
		t.Fatal(err)
	}
	h.waitState(t, g.ID+".ocr", jobstate.Dead)
	h.waitState(t, g.ID+".notify", jobstate.Done)
	run(t, ctx, "open a waiting graph node", chromedp.Navigate(h.base+"/console/jobs/"+g.ID+".book"), chromedp.WaitVisible(chromedp.CSS("#graph-drawing")))
	if got = text(t, ctx, "#graph-state"); got != "blocked" {
		t.Fatalf("graph state %q", got)
	}
	shot(t, ctx, dir, "11-job-graph")
}
