package natstest

import (
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
)

// link is one direction of a route between two cluster nodes: node from
// dials the link's port, and the link forwards to node to's cluster port.
// Cutting it closes every connection through it and refuses new ones
// until it is mended, so a node can vanish from its peers at once — as a
// kill -9 or a cable pulled — instead of stepping its Raft groups down
// the way server.Shutdown does. That step-down is why an in-process
// stream-leader loss took ~0.2s while a real one takes 4-9s (the
// followers' election timeout).
type link struct {
	port int    // where the dialing node connects (fixed, so a mended link keeps it)
	to   string // the target node's cluster address

	mu    sync.Mutex
	ln    net.Listener // nil while cut
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func newLink(tb testing.TB, to string) *link {
	tb.Helper()
	l := &link{port: FreePort(tb), to: to, conns: map[net.Conn]struct{}{}}
	if err := l.mend(); err != nil {
		tb.Fatalf("natstest: route link: %v", err)
	}
	return l
}

// mend listens again and forwards new connections.
func (l *link) mend() error {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(l.port)))
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.ln = ln
	l.mu.Unlock()
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return // cut
			}
			l.forward(c)
		}
	}()
	return nil
}

// forward copies c to a new connection to the target and back until
// either side closes or the link is cut.
func (l *link) forward(c net.Conn) {
	t, err := net.Dial("tcp", l.to)
	if err != nil {
		c.Close()
		return
	}
	l.mu.Lock()
	if l.ln == nil { // cut while dialing
		l.mu.Unlock()
		c.Close()
		t.Close()
		return
	}
	l.conns[c], l.conns[t] = struct{}{}, struct{}{}
	l.mu.Unlock()
	pipe := func(dst, src net.Conn) {
		defer l.wg.Done()
		_, _ = io.Copy(dst, src)
		dst.Close()
		src.Close()
		l.mu.Lock()
		delete(l.conns, dst)
		delete(l.conns, src)
		l.mu.Unlock()
	}
	l.wg.Add(2)
	go pipe(t, c)
	go pipe(c, t)
}

// cut closes the listener and every connection through the link, and
// waits until its goroutines are gone.
func (l *link) cut() {
	l.mu.Lock()
	if l.ln != nil {
		l.ln.Close()
		l.ln = nil
	}
	for c := range l.conns {
		c.Close()
	}
	l.mu.Unlock()
	l.wg.Wait()
}
