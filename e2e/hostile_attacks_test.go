package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobs"
	"github.com/insightpulse/pulsehub/services/ingester/attacktest"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The attacks of the hostile-input suite (hostile_test.go): floods of
// connections, strangers holding bodies, NATS clients, and the report.

// idleMax caps the idle connections: each takes two descriptors in this
// process (the client's and the ingester's), and the machine is shared.
const idleMax = 2000

// tally counts outcomes and the spread of when they came.
type tally struct {
	mu          sync.Mutex
	n           map[string]int
	first, last time.Duration
}

func (t *tally) add(outcome string, after time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.n == nil {
		t.n = map[string]int{}
		t.first = after
	}
	t.n[outcome]++
	t.first, t.last = min(t.first, after), max(t.last, after)
}

// status is attacktest.Stranger's report: a status, or "closed" for a
// connection closed without one.
func (t *tally) status(code int, after time.Duration) {
	outcome := "closed"
	if code != 0 {
		outcome = strconv.Itoa(code)
	}
	t.add(outcome, after)
}

// strangerGap is how often a stranger sends a byte of its body.
const strangerGap = 100 * time.Millisecond

// merge adds o's counts and spread to t.
func (t *tally) merge(o *tally) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for k, v := range o.n {
		for range v {
			t.add(k, o.first)
		}
	}
	if len(o.n) > 0 {
		t.mu.Lock()
		t.first, t.last = min(t.first, o.first), max(t.last, o.last)
		t.mu.Unlock()
	}
}

// outcomes are the distinct outcomes, sorted.
func (t *tally) outcomes() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var o []string
	for k := range t.n {
		o = append(o, k)
	}
	slices.Sort(o)
	return strings.Join(o, " ")
}

func (t *tally) count(outcome string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n[outcome]
}

func (t *tally) total() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, v := range t.n {
		n += v
	}
	return n
}

// legitRun is what the normal deliveries sent during an attack got.
type legitRun struct {
	answers tally
	slowest time.Duration
	stored  grew
}

func (l *legitRun) String() string {
	return fmt.Sprintf("%d of %d normal deliveries 202, slowest %s", l.answers.count("202"), l.answers.total(), l.slowest.Round(time.Millisecond))
}

// during sends normal deliveries, one after the other at the pace of real
// ones (and every other one to Odoo with odoo), until done is closed.
func (s *hostile) during(ctx context.Context, done <-chan struct{}, odoo bool) *legitRun {
	l := &legitRun{stored: grew{}}
	for i := 0; ; i++ {
		toOdoo := odoo && i%2 == 1
		code, took := s.legit(ctx, toOdoo)
		l.answers.add(code, 0)
		l.slowest = max(l.slowest, took)
		if code == "202" {
			if toOdoo {
				l.stored[events.StreamOdoo]++
			} else {
				l.stored[events.StreamGitHub]++
			}
		}
		select {
		case <-done:
			return l
		case <-ctx.Done():
			return l
		case <-time.After(50 * time.Millisecond): // the pace of real deliveries, not a wait for a condition
		}
	}
}

// holders opens n connections (0: as many idle ones as idleConns allows)
// that each send head one byte every gap, or nothing when head is empty,
// and never finish a request; normal deliveries go on until the hub has
// closed every one of them.
func holders(n int, head string, gap time.Duration) func(context.Context, *hostile) answer {
	return func(ctx context.Context, s *hostile) answer {
		why := ""
		if n == 0 {
			n, why = idleConns()
		}
		type held struct {
			c      net.Conn
			opened time.Time
		}
		var conns []held
		var d net.Dialer
		var dialErr error
		for range n {
			c, err := d.DialContext(ctx, "tcp", s.addr)
			if err != nil {
				dialErr = err
				break
			}
			if dl, ok := ctx.Deadline(); ok {
				_ = c.SetDeadline(dl)
			}
			conns = append(conns, held{c, time.Now()})
		}
		var closed tally
		var wg sync.WaitGroup
		for _, h := range conns {
			wg.Go(func() {
				defer h.c.Close()
				stop := make(chan struct{})
				var writer sync.WaitGroup
				if head != "" {
					writer.Go(func() { trickle(h.c, head, gap, stop) })
				}
				got := answers(h.c, 1)
				close(stop)
				writer.Wait()
				closed.add(got, time.Since(h.opened))
			})
		}
		all := make(chan struct{})
		go func() { wg.Wait(); close(all) }()
		l := s.during(ctx, all, false)
		<-all // each reader returns by the case's deadline, its connection's
		got := closed.outcomes()
		if dialErr != nil {
			got += " (dial failed after " + strconv.Itoa(len(conns)) + ": " + dialErr.Error() + ")"
		}
		note := fmt.Sprintf("%d connections%s: %d closed by the hub %s–%s after opening; %s", len(conns), why,
			closed.count("closed"), closed.first.Round(10*time.Millisecond), closed.last.Round(10*time.Millisecond), l)
		return answer{got: got + "; legit " + l.answers.outcomes(), stored: l.stored, note: note}
	}
}

// trickle writes head one byte every gap until it is all written or stop
// is closed.
func trickle(c net.Conn, head string, gap time.Duration, stop <-chan struct{}) {
	tick := time.NewTicker(gap)
	defer tick.Stop()
	for i := range len(head) {
		if _, err := io.WriteString(c, head[i:i+1]); err != nil {
			return
		}
		select {
		case <-stop:
			return
		case <-tick.C:
		}
	}
}

// idleConns is how many idle connections to open: as many as the file
// descriptor limit leaves room for (two a connection, 1,024 kept for the
// rest), at most idleMax.
func idleConns() (int, string) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return idleMax / 2, fmt.Sprintf(" (RLIMIT_NOFILE unknown: %v)", err)
	}
	room := (int(min(rl.Cur, 1<<20)) - 1024) / 2
	return max(min(idleMax, room), 1), fmt.Sprintf(" (capped at %d; RLIMIT_NOFILE %d leaves room for %d)", idleMax, rl.Cur, room)
}

// strangers is issue 13's second bug: ten connections announcing 25 MiB
// and one 6 MiB — together the default 256 MiB budget, which their
// announcements alone used to reserve for 30 s — each sending its headers
// and then one byte every 100ms and coming back whenever it is cut, and
// one more guessing an Odoo token, while normal GitHub and Odoo
// deliveries go on, for one and a half times the rate floor's grace.
func strangers(ctx context.Context, s *hostile) answer {
	grace := s.h.Config.Ingester.MinBodyRateGrace
	attack, stop := context.WithCancel(ctx)
	defer stop()
	github := make([]tally, 11)
	var guesser tally
	var peak atomic.Int64
	var wg sync.WaitGroup
	for i := range github {
		size := 25 << 20
		if i == 10 {
			size = 6 << 20
		}
		wg.Go(func() { attacktest.Stranger(attack, s.addr, "/github", size, strangerGap, github[i].status) })
	}
	wg.Go(func() {
		attacktest.Stranger(attack, s.addr, "/odoo/"+anySource+"/not-the-token-0123456789", 1<<20, strangerGap, guesser.status)
	})
	wg.Go(func() { // what the budget holds, sampled
		for attack.Err() == nil {
			if v, err := s.inFlight(attack); err == nil && int64(v) > peak.Load() {
				peak.Store(int64(v))
			}
			select {
			case <-attack.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	})
	done := make(chan struct{})
	timer := time.AfterFunc(grace+grace/2, func() { close(done) })
	defer timer.Stop()
	l := s.during(ctx, done, true)
	stop()
	wg.Wait()

	var all tally
	never := 0
	for i := range github {
		all.merge(&github[i])
		if github[i].total() == 0 {
			never++
		}
	}
	got := fmt.Sprintf("strangers %s, guesser %s; legit %s", all.outcomes(), guesser.outcomes(), l.answers.outcomes())
	if never > 0 {
		got += fmt.Sprintf(" (%d strangers never cut)", never)
	}
	note := fmt.Sprintf("default budget %d MiB: strangers cut %d times (408 after %s–%s), guesser refused %d times; the budget held at most %d KiB (strangers and normal deliveries); %s",
		s.h.Config.Ingester.MaxInFlightBytes>>20, all.total(), all.first.Round(10*time.Millisecond), all.last.Round(10*time.Millisecond),
		guesser.total(), peak.Load()>>10, l)
	return answer{got: got, stored: l.stored, note: note}
}

// inFlight is the ingester's pulsehub_ingester_body_bytes_in_flight.
func (s *hostile) inFlight(ctx context.Context) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.h.Ingester+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "pulsehub_ingester_body_bytes_in_flight "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, errors.New("no pulsehub_ingester_body_bytes_in_flight in /metrics")
}

// waitInFlight waits until the body budget holds nothing.
func (s *hostile) waitInFlight(ctx context.Context) error {
	for {
		v, err := s.inFlight(ctx)
		if err == nil && v == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the body budget still holds %.0f bytes (%v)", v, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// natsClient connects to the hub's NATS server with opts: refused, or
// "connected".
func natsClient(opts func(s *hostile) []nats.Option) func(context.Context, *hostile) answer {
	return func(ctx context.Context, s *hostile) answer {
		o := append([]nats.Option{nats.Name("e2e-hostile"), nats.Timeout(5 * time.Second), nats.NoReconnect()}, opts(s)...)
		nc, err := nats.Connect(s.h.NATSURL, o...)
		switch {
		case err == nil:
			nc.Close()
			return answer{got: "connected"}
		case errors.Is(err, nats.ErrAuthorization):
			return answer{got: "refused: authorization violation", note: err.Error()}
		}
		return answer{got: "refused: " + err.Error()}
	}
}

// asUser connects as one of the hub's users and tries something: refused
// (the error in the note) or "allowed".
func asUser(user string, try func(ctx context.Context, js jetstream.JetStream) error) func(context.Context, *hostile) answer {
	return func(ctx context.Context, s *hostile) answer {
		var violation atomic.Bool // the server's asynchronous answer to a publish it refused
		opts := append(s.users.Options(user), nats.NoReconnect(), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrPermissionViolation) {
				violation.Store(true)
			}
		}))
		nc, err := nats.Connect(s.h.NATSURL, opts...)
		if err != nil {
			return answer{got: "connect: " + err.Error()}
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			return answer{got: "jetstream: " + err.Error()}
		}
		tctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if err := try(tctx, js); err != nil {
			if violation.Load() || errors.Is(err, nats.ErrPermissionViolation) {
				return answer{got: "refused: permissions violation", note: err.Error()}
			}
			return answer{got: "refused", note: err.Error()}
		}
		return answer{got: "allowed"}
	}
}

// escaping is a job that asks for its result on an Odoo command subject.
var escaping = jobs.Job{Payload: json.RawMessage(`{"attachment_id":1}`), ResultSubject: "odoo.cmd.res_partner.unlink"}

func enqueueEscaping(ctx context.Context, s *hostile) answer {
	_, _, err := jobs.Enqueue(ctx, s.h.JS, "ocr", "extract", escaping)
	if errors.Is(err, events.ErrSubject) {
		return answer{got: "refused", note: err.Error()}
	}
	return answer{got: fmt.Sprintf("enqueued (%v)", err)}
}

// publishEscaping publishes the escaping job as the operator, around
// Enqueue, and waits for its dead letter; the OCR service must not have
// been called.
func publishEscaping(ctx context.Context, s *hostile) answer {
	calls := s.h.OCR.Calls()
	data, err := json.Marshal(escaping)
	if err != nil {
		return answer{got: err.Error()}
	}
	e := events.New(ctx, "urn:pulsehub:e2e:hostile", jobs.Type, data)
	if _, err := s.h.JS.PublishMsg(ctx, e.Msg(events.JobSubject("ocr", "extract"))); err != nil {
		return answer{got: "publish: " + err.Error()}
	}
	dlq, err := s.h.JS.Stream(ctx, events.StreamDLQ)
	if err != nil {
		return answer{got: err.Error()}
	}
	for {
		m, err := dlq.GetLastMsgForSubject(ctx, "dlq.>")
		if err == nil && m.Header.Get(events.HeaderID) == e.ID {
			reason := m.Header.Get(events.HeaderDLQReason)
			got := "dead-lettered"
			if n := s.h.OCR.Calls(); n != calls {
				got += fmt.Sprintf(", but the service was called %d times", n-calls)
			}
			if !strings.Contains(reason, "result_subject") {
				got += ", for another reason"
			}
			return answer{got: got, note: reason}
		}
		select {
		case <-ctx.Done():
			return answer{got: "no dead letter by the deadline"}
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// reportRow is one line of the suite's report.
type reportRow struct {
	name, want, got, then, note string
	failed                      bool
}

func report(rows []reportRow) string {
	var b strings.Builder
	fmt.Fprintln(&b, "| case | want | got | then | numbers |")
	fmt.Fprintln(&b, "|---|---|---|---|---|")
	for _, r := range rows {
		got := r.got
		if r.failed {
			got = "**FAIL** " + got
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", r.name, r.want, got, r.then, r.note)
	}
	return b.String()
}
