package odootest

import (
	"net"
	"sync"
)

// switchListener is a listener that can go down and come back on the same
// address: while down nothing listens, so clients get connection refused.
type switchListener struct {
	addr net.Addr

	mu     sync.Mutex
	inner  net.Listener  // nil while down
	up     chan struct{} // closed when the listener comes back or closes
	closed bool
}

func newSwitchListener() (*switchListener, error) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	return &switchListener{addr: inner.Addr(), inner: inner, up: make(chan struct{})}, nil
}

// Accept waits for a connection, riding through down periods.
func (l *switchListener) Accept() (net.Conn, error) {
	for {
		l.mu.Lock()
		inner, up, closed := l.inner, l.up, l.closed
		l.mu.Unlock()
		if closed {
			return nil, net.ErrClosed
		}
		if inner == nil {
			<-up
			continue
		}
		c, err := inner.Accept()
		if err == nil {
			return c, nil
		}
		l.mu.Lock()
		switched := l.inner != inner || l.closed
		l.mu.Unlock()
		if !switched {
			return nil, err
		}
	}
}

// setDown closes the socket (down) or listens again on the same address.
func (l *switchListener) setDown(down bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || down == (l.inner == nil) {
		return nil
	}
	if down {
		err := l.inner.Close()
		l.inner = nil
		return err
	}
	inner, err := net.Listen("tcp", l.addr.String())
	if err != nil {
		return err
	}
	l.inner = inner
	close(l.up)
	l.up = make(chan struct{})
	return nil
}

func (l *switchListener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	close(l.up)
	if l.inner != nil {
		return l.inner.Close()
	}
	return nil
}

func (l *switchListener) Addr() net.Addr { return l.addr }
