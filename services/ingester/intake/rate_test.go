package intake_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/services/ingester/intake"
	"github.com/prometheus/client_golang/prometheus"
)

// floorServer serves an Endpoint whose bodies must keep up 1 KiB/s after
// 300ms; a request with X-Slow-Handler takes 600ms after reading its body
// (a slow publish) and fails if its context ended meanwhile.
func floorServer(t *testing.T) (addr string, b *intake.Budget, reg *prometheus.Registry) {
	t.Helper()
	reg = prometheus.NewRegistry()
	m := intake.NewMetrics(reg)
	b = intake.NewBudget(1<<20, m)
	ep := intake.Endpoint{Source: "test", Metrics: m,
		Bodies: intake.BodyRules{Budget: b, MinRate: 1 << 10, Grace: 300 * time.Millisecond, ReadTimeout: 30 * time.Second},
		Handle: func(w http.ResponseWriter, r *http.Request) intake.Result {
			if _, res, ok := intake.ReadBody(w, r, 2<<20); !ok {
				return res
			}
			if r.Header.Get("X-Slow-Handler") != "" {
				time.Sleep(600 * time.Millisecond) // a slow publish, past the floor's deadline for this body
				if err := r.Context().Err(); err != nil {
					return intake.Reject(http.StatusInternalServerError, "canceled", err.Error())
				}
			}
			return intake.Result{Status: http.StatusAccepted, Outcome: intake.OutcomeStored, Body: struct{}{}}
		}}
	srv := httptest.NewServer(ep)
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String(), b, reg
}

// send writes a request announcing length bytes, then the pieces of its
// body every gap, and returns the connection's answer.
func send(t *testing.T, addr string, header string, length int, pieces []string, gap time.Duration) (*http.Response, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "POST /x HTTP/1.1\r\nHost: test\r\n%sContent-Length: %d\r\n\r\n", header, length)
	go func() {
		for _, p := range pieces {
			if _, err := io.WriteString(c, p); err != nil {
				return
			}
			time.Sleep(gap) // the client's pace
		}
	}()
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, br
}

func TestABodySlowerThanTheFloorIsCutWith408(t *testing.T) {
	addr, b, reg := floorServer(t)

	// Announces 1 MiB, sends 10 bytes and stalls: cut once the grace and
	// what 10 bytes buy have passed, and its connection closed.
	resp, br := send(t, addr, "", 1<<20, []string{"0123456789"}, time.Hour)
	if resp.StatusCode != http.StatusRequestTimeout || !resp.Close {
		t.Fatalf("stalled body: %d, close %v", resp.StatusCode, resp.Close)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("the connection of a cut body stays open: %v", err)
	}
	if b.InUse() != 0 || counter(t, reg, "test", "408", intake.OutcomeTooSlow) != 1 {
		t.Fatalf("%d bytes held after the cut; %v counted too slow", b.InUse(), counter(t, reg, "test", "408", intake.OutcomeTooSlow))
	}

	// 4 KiB in pieces of 512 bytes every 100ms (5 KiB/s) keeps above the floor.
	piece := strings.Repeat("x", 512)
	resp, _ = send(t, addr, "", 4096, []string{piece, piece, piece, piece, piece, piece, piece, piece}, 100*time.Millisecond)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("a body above the floor: %d", resp.StatusCode)
	}

	// Once the body is read, the floor's deadline is gone: a handler that
	// takes longer than it is not canceled.
	resp, _ = send(t, addr, "X-Slow-Handler: 1\r\n", 10, []string{"0123456789"}, 0)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("a slow handler after the body: %d", resp.StatusCode)
	}
	natstest.WaitFor(t, natstest.Wait, "the budget to be free", func() bool { return b.InUse() == 0 })
}
