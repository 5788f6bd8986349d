// Package attacktest holds the attackers the ingester's tests (and the e2e
// hostile-input suite) run against its hooks, so that every suite attacks
// the same way.
package attacktest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Stranger is issue 13's body-budget attacker: an unauthenticated client
// that connects to addr, POSTs to path a request announcing length bytes
// of body with a signature that matches nothing, then sends one byte of
// body every gap. When the ingester answers, answered gets the status (0:
// the connection closed without one) and how long it took; the stranger
// comes back on a new connection after gap, until ctx ends.
func Stranger(ctx context.Context, addr, path string, length int, gap time.Duration, answered func(status int, took time.Duration)) {
	var d net.Dialer
	for ctx.Err() == nil {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return
		}
		start := time.Now()
		fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: hub\r\nX-GitHub-Event: push\r\nX-GitHub-Delivery: ffffffff-0000-4000-8000-000000000000\r\n"+
			"X-Hub-Signature-256: sha256=00\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", path, length)
		status := make(chan int, 1)
		go func() {
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				status <- 0
				return
			}
			resp.Body.Close()
			status <- resp.StatusCode
		}()
		tick := time.NewTicker(gap)
		answer := -1
	trickle:
		for {
			if _, err := c.Write([]byte("{")); err != nil {
				break
			}
			select {
			case <-ctx.Done():
				break trickle
			case answer = <-status:
				break trickle
			case <-tick.C:
			}
		}
		tick.Stop()
		c.Close()
		if answer < 0 { // cut by ctx or a failed write: the reader ends with the close
			answer = <-status
			if ctx.Err() != nil {
				return
			}
		}
		answered(answer, time.Since(start))
		select { // and comes back
		case <-ctx.Done():
		case <-time.After(gap):
		}
	}
}
