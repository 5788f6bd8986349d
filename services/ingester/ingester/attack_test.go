package ingester_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/services/ingester/attacktest"
	"github.com/insightpulse/pulsehub/services/ingester/intake"
	"github.com/insightpulse/pulsehub/services/ingester/internal/ingesttest"
)

// tally counts answers by status.
type tally struct {
	mu sync.Mutex
	n  map[int]int
}

func (t *tally) add(code int, _ time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.n == nil {
		t.n = map[int]int{}
	}
	t.n[code]++
}

func (t *tally) count(code int) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n[code]
}

func TestStrangersAnnouncingLargeBodiesCannotBlockSignedDeliveries(t *testing.T) {
	n := ingesttest.StartNATS(t)
	cfg := budgetConfig()
	cfg.MaxInFlightBytes = 4 << 20
	cfg.MinBodyRateGrace = 500 * time.Millisecond // scaled down with the budget: strangers are cut sooner
	ing := ingesttest.Serve(t, n, cfg)
	_, js := n.Client(t)
	addr := strings.TrimPrefix(ing.URL, "http://")

	// Issue 13's attack, scaled to a 4 MiB budget: ten strangers announce
	// 25 MiB, one 6 MiB, each sends its headers and then trickles one byte
	// every 100ms (far under 64 KiB/s), and comes back whenever it is cut.
	// Before, the first of them reserved the whole budget for 30s.
	ctx, stop := context.WithCancel(t.Context())
	var answers tally
	var wg sync.WaitGroup
	for i := range 11 {
		size := 25 << 20
		if i == 10 {
			size = 6 << 20
		}
		wg.Go(func() { attacktest.Stranger(ctx, addr, "/github", size, 100*time.Millisecond, answers.add) })
	}
	// And one stranger guessing an Odoo token: refused before its body is read.
	wg.Go(func() {
		attacktest.Stranger(ctx, addr, "/odoo/partners/not-the-token-0123456789", 1<<20, 100*time.Millisecond, answers.add)
	})
	t.Cleanup(func() { stop(); wg.Wait() })
	natstest.WaitFor(t, natstest.Wait, "the strangers to hold their first pieces", func() bool { return inFlight(t, ing) >= 11*intake.FirstPiece })

	// Meanwhile signed deliveries and Odoo events come for 2.5s (five
	// rate-floor graces): every one is stored, none waits long.
	push, _ := os.ReadFile("../testdata/github/push/payload.json")
	odoo := odooURL(ing, "partners", token)
	var stored int
	var slowest time.Duration
	maxHeld := 0.0
	for i := range 50 {
		start := time.Now()
		var code int
		var answer []byte
		if i%2 == 0 {
			code, answer = ing.Post(t, "/github", delivery("push", fmt.Sprintf("cccccccc-0000-4000-8000-%012d", i), secret, "application/json", push), push)
		} else {
			body := fmt.Appendf(nil, `{"_id": %d, "_model": "res.partner", "write_date": "2026-11-22 05:14:39"}`, i)
			code, answer = ing.Post(t, strings.TrimPrefix(odoo, ing.URL), odooHeader(false), body)
		}
		if code != http.StatusAccepted {
			t.Fatalf("delivery %d during the attack: %d %s", i, code, answer)
		}
		stored++
		slowest = max(slowest, time.Since(start))
		maxHeld = max(maxHeld, inFlight(t, ing))
		time.Sleep(50 * time.Millisecond) // the pace of real deliveries
	}
	// What the strangers hold is bounded by what they sent: a first piece
	// each, never what they announced.
	if limit := float64(12*intake.FirstPiece + 16<<10); maxHeld > limit {
		t.Fatalf("%v bytes held during the attack, more than the strangers' first pieces and one delivery (%v)", maxHeld, limit)
	}
	if slowest > 5*time.Second { // a sanity bound: the budget never made a delivery wait; the machine is shared
		t.Fatalf("a delivery took %s during the attack", slowest)
	}
	stop()
	wg.Wait()
	count := answers.count
	if count(http.StatusRequestTimeout) < 11 || count(http.StatusNotFound) < 1 {
		t.Fatalf("strangers' answers: 408 ×%d, 404 ×%d; want every GitHub stranger cut at least once and the Odoo one refused",
			count(http.StatusRequestTimeout), count(http.StatusNotFound))
	}
	t.Logf("%d deliveries stored during the attack, slowest %s; strangers held at most %.0f bytes; cut with 408 %d times, 404 %d times",
		stored, slowest.Round(time.Millisecond), maxHeld, count(http.StatusRequestTimeout), count(http.StatusNotFound))

	// After the attack: the budget is free, a normal delivery is stored,
	// and nothing of the strangers was.
	waitInFlight(t, ing, 0)
	if code, answer := ing.Post(t, "/github", delivery("push", "cccccccc-0000-4000-8000-999999999999", secret, "application/json", push), push); code != http.StatusAccepted {
		t.Fatalf("after the attack: %d %s", code, answer)
	}
	if got := ingesttest.Count(t, js, events.StreamGitHub) + ingesttest.Count(t, js, events.StreamOdoo); got != uint64(stored+1) {
		t.Fatalf("%d events stored, want the %d deliveries", got, stored+1)
	}
}
