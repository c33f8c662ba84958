package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/loadtest/loadtest/coordinator"
	"github.com/loadtest/loadtest/internal/testtools"
	"github.com/loadtest/loadtest/web"
)

// browser starts headless Chromium at width x 900 and returns its context and the console
// errors it sees (exceptions, console.error, failed loads).
func browser(t *testing.T, width int) (context.Context, func() []string) {
	t.Helper()
	path := testtools.Require(t, "chromium", "chromium")
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, 900))
	for _, f := range testtools.ChromiumFlags { // the flags every Chromium of the tests runs with
		opts = append(opts, chromedp.Flag(strings.TrimPrefix(f, "--"), true))
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil { // starts the browser
		t.Fatal(err)
	}
	lctx, stopListening := context.WithCancel(ctx)
	messages := chromedp.Console(lctx)
	var mu sync.Mutex
	var errs []string
	var wg sync.WaitGroup
	wg.Go(func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException {
				mu.Lock()
				errs = append(errs, m.String()+" "+m.URL)
				mu.Unlock()
			}
		}
	})
	t.Cleanup(func() { stopListening(); wg.Wait(); cancelC(); cancelA() })
	return ctx, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), errs...) }
}

// do runs steps within a deadline.
func do(t *testing.T, ctx context.Context, d time.Duration, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	if err := chromedp.Do(tctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// get runs one action that returns a value, within a deadline.
func get[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(tctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// screenshot keeps a full-page screenshot: in docs/images when LOADTEST_UPDATE_SCREENSHOTS=1
// (the ones docs/web.md shows), else in the test's folder.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	buf := get(t, ctx, chromedp.FullScreenshot(100)) // 100: PNG
	dir := t.TempDir()
	if os.Getenv("LOADTEST_UPDATE_SCREENSHOTS") == "1" {
		dir = filepath.Join("..", "docs", "images")
		_ = os.MkdirAll(dir, 0o755)
	}
	if err := os.WriteFile(filepath.Join(dir, name), buf, 0o644); err != nil {
		t.Fatal(err)
	}
}

// noOverflow fails when the page is wider than the window (a layout that breaks).
func noOverflow(t *testing.T, ctx context.Context, where string) {
	t.Helper()
	w := get(t, ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
	iw := get(t, ctx, chromedp.Evaluate[int](`window.innerWidth`))
	if w > iw+1 {
		t.Errorf("%s: the page is %d px wide in a %d px window", where, w, iw)
	}
}

// TestUI_Search starts a capacity search from the form in a real browser, against mmsim
// with a capacity model (2 workers x 20 ms: 110 noop users at a 100 ms mean latency), and
// watches it: the page loads with no console errors, the live view draws the run, a
// refresh in the middle keeps every second drawn, the page shows the answer report.json
// has, and the layout holds at 1280 and 800 px. Then the comparison page.
func TestUI_Search(t *testing.T) {
	if testing.Short() {
		t.Skip("a search of a minute or two in a browser")
	}
	mmURL, agentURL := target(t, 2)
	results := t.TempDir()
	s := web.NewServer(web.Options{Results: results})
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() { hs.Close(); s.Close() })
	ctx, consoleErrors := browser(t, 1280)

	q := coordinator.DefaultQueries()[0]
	q.Threshold = 0.1
	queries, _ := json.Marshal([]coordinator.Query{q})
	set := func(path, v string) chromedp.Action[chromedp.Void] {
		return chromedp.SetValue(chromedp.CSS(fmt.Sprintf(`[data-path=%q]`, path)), v)
	}
	do(t, ctx, 30*time.Second,
		chromedp.Navigate(hs.URL+"/#/new/search"),
		chromedp.WaitVisible(chromedp.CSS(`form.run`)),
		set("agent_config.ConnectionConfiguration.ServerURL", mmURL),
		set("agent_config.UserControllerConfiguration.Type", "noop"),
		set("agent_config.UsersConfiguration.MaxActiveUsers", "300"),
		set("config.ClusterConfig.Agents", "lt0 "+agentURL),
		set("config.ClusterConfig.MaxActiveUsers", "300"),
		set("config.MonitorConfig.Queries", string(queries)),
		set("config.Search.HoldSec", "4"),
		set("config.Search.SettleSec", "1"),
		set("config.Search.Precision", "0.05"),
	)
	screenshot(t, ctx, "ui-new-search.png")
	// A bad value gets the config loader's own message, naming the field, as it is typed.
	do(t, ctx, 20*time.Second,
		set("config.Search.HoldSec", "-3"), // SetValue sends the input event typing would
		chromedp.WaitVisible(chromedp.CSS(`.error`)))
	msg := get(t, ctx, chromedp.Text(chromedp.CSS(`.error`)))
	if !strings.Contains(msg, "Search.HoldSec") {
		t.Errorf("the form's error for HoldSec -3: %q; want it to name Search.HoldSec", msg)
	}
	do(t, ctx, 30*time.Second,
		set("config.Search.HoldSec", "4"),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`.chart canvas`)))
	points := func() int { return get(t, ctx, chromedp.Evaluate[int](`window.ltRun ? window.ltRun.points() : 0`)) }
	testtools.Eventually(t, 60*time.Second, "the live view draws 15 seconds", func() bool { return points() >= 15 })
	screenshot(t, ctx, "ui-live-search.png")
	before := points()
	do(t, ctx, 30*time.Second, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`.chart canvas`)))
	testtools.Eventually(t, 10*time.Second, "the seconds before the refresh drawn again", func() bool { return points() >= before })
	testtools.Eventually(t, 10*time.Second, "every chart drawn again after the refresh: users, latency, the bracket, the query, p99 and p50 per route, the agents", func() bool {
		return get(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll('.chart canvas').length`)) >= 7
	})
	testtools.Eventually(t, 4*time.Minute, "the search ends", func() bool {
		return get(t, ctx, chromedp.Evaluate[string](`window.ltRun.state()`)) == "done"
	})
	id := get(t, ctx, chromedp.Evaluate[string](`window.ltRun.id`))
	answer := chromedp.Search(`//div[@class="label" and text()="supported users"]/following-sibling::div`)
	do(t, ctx, 20*time.Second, chromedp.WaitVisible(answer))
	shown := get(t, ctx, chromedp.Text(answer))
	b, err := os.ReadFile(filepath.Join(results, id, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep coordinator.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if shown != strconv.Itoa(rep.SupportedUsers) || rep.Outcome != coordinator.Answered {
		t.Errorf("the page shows %q supported users; report.json says %d (%s)", shown, rep.SupportedUsers, rep.Outcome)
	}
	if math.Abs(float64(rep.SupportedUsers)-110) > 11 {
		t.Errorf("the search found %d users; the model supports 110", rep.SupportedUsers)
	}
	screenshot(t, ctx, "ui-search-done.png")
	noOverflow(t, ctx, "the run at 1280 px")
	do(t, ctx, 20*time.Second, chromedp.EmulateViewport(800, 900), chromedp.Sleep(300*time.Millisecond))
	noOverflow(t, ctx, "the run at 800 px")
	screenshot(t, ctx, "ui-search-800.png")

	// The comparison page: the run against a copy of itself with 20 % slower requests.
	slower := rep
	slower.Keys = append([]coordinator.KeySeries(nil), rep.Keys...)
	for i := range slower.Keys {
		k := &slower.Keys[i]
		k.P50, k.P99 = append([]float64(nil), k.P50...), append([]float64(nil), k.P99...)
		for j := range k.P99 {
			k.P50[j] *= 1.2
			k.P99[j] *= 1.2
		}
	}
	if err := slower.Write(filepath.Join(results, "search-slower")); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, 30*time.Second, chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate(hs.URL+"/#/compare?a="+id+"&b=search-slower"),
		chromedp.WaitVisible(chromedp.CSS(`td.sig`)))
	noOverflow(t, ctx, "the comparison at 1280 px")
	screenshot(t, ctx, "ui-compare.png")
	do(t, ctx, 20*time.Second, chromedp.Navigate(hs.URL+"/#/"), chromedp.WaitVisible(chromedp.CSS(`table`)))
	if rows := get(t, ctx, chromedp.Nodes(chromedp.CSSAll(`table tr`))); len(rows) != 3 { // the header and two runs
		t.Errorf("the runs page has %d rows; want a header and 2 runs", len(rows))
	}
	var errs []string
	for _, e := range consoleErrors() {
		// The form's check of HoldSec -3 above: a 400 the browser logs, as it logs every one.
		if !strings.Contains(e, "status of 400") || !strings.Contains(e, "/api/runs?validate=1") {
			errs = append(errs, e)
		}
	}
	if len(errs) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
	}
}

// TestUI_Plan starts a plan through the API and drives it from its live view: the users
// field changes the users the agents run, the charts draw the routes, and Stop ends it with
// its report; no console errors.
func TestUI_Plan(t *testing.T) {
	if testing.Short() {
		t.Skip("a plan of half a minute in a browser")
	}
	mmURL, agentURL := target(t, 0)
	s := web.NewServer(web.Options{Results: t.TempDir()})
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() { hs.Close(); s.Close() })
	var sum web.Summary
	req := map[string]any{"kind": "plan", "start": true, "plan": map[string]any{
		"Name": "ping", "Targets": []string{mmURL}, "Users": 3, "RampUpSec": 2, "SustainSec": 120, "WindDownSec": 1, "ReportEverySec": 5,
		"Agents":  []map[string]any{{"Id": "lt0", "ApiURL": agentURL}},
		"Scripts": []map[string]any{{"Name": "ping", "Source": "def main():\n    get('/api/v4/system/ping', name='ping')\n    delay(100)\n"}},
	}}
	if code, body := call(t, "POST", hs.URL+"/api/runs", req, &sum); code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	ctx, consoleErrors := browser(t, 1280)
	do(t, ctx, 30*time.Second, chromedp.Navigate(hs.URL+"/#/run/"+sum.ID), chromedp.WaitVisible(chromedp.CSS(`.chart canvas`)))
	users := func() int {
		return get(t, ctx, chromedp.Evaluate[int](`(function(){var o=window.ltRun; return o ? (window.__users = document.querySelector('.cards .value').textContent)|0 : 0})()`))
	}
	testtools.Eventually(t, 30*time.Second, "the plan's 3 users", func() bool { return users() == 3 })
	do(t, ctx, 10*time.Second,
		chromedp.SetValue(chromedp.CSS(`input[placeholder=users]`), "6"),
		chromedp.Click(chromedp.Search(`//button[text()="Set users"]`)))
	testtools.Eventually(t, 30*time.Second, "6 users after Set users", func() bool { return users() == 6 })
	testtools.Eventually(t, 30*time.Second, "the p99 per route chart and a period", func() bool {
		return get(t, ctx, chromedp.Evaluate[bool](`!!Array.from(document.querySelectorAll('.chart h3')).find(h => h.textContent.startsWith('p99 per route')) && !!Array.from(document.querySelectorAll('h2')).find(h => h.textContent === 'Periods')`))
	})
	screenshot(t, ctx, "ui-live-plan.png")
	do(t, ctx, 10*time.Second, chromedp.Click(chromedp.Search(`//button[text()="Stop"]`)))
	testtools.Eventually(t, 60*time.Second, "the plan stopped", func() bool {
		return get(t, ctx, chromedp.Evaluate[string](`window.ltRun.state()`)) == "done"
	})
	call(t, "GET", hs.URL+"/api/runs/"+sum.ID, nil, &sum)
	if sum.State != web.StateDone || !slices.Contains(sum.Files, "metrics.csv") || !slices.Contains(sum.Files, "report.html") {
		t.Errorf("after Stop: %+v", sum)
	}
	var rep coordinator.Report
	call(t, "GET", hs.URL+"/api/runs/"+sum.ID+"/report", nil, &rep)
	if !slices.ContainsFunc(rep.Decisions, func(d coordinator.TimedDecision) bool {
		return d.Users == 6 && strings.Contains(d.Reason, "set during the run")
	}) {
		t.Errorf("no decision records the change to 6 users: %+v", rep.Decisions)
	}
	if errs := consoleErrors(); len(errs) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
	}
}
