package ingestbench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/insightpulse/pulsehub/services/ingester/githubhook"
)

// Client is the load generator's HTTP client.
type Client string

// The clients.
const (
	// GoClient is net/http's client (the default).
	GoClient Client = ""
	// RawClient writes the same request bytes net/http's client writes
	// (same header fields, same order) over one keep-alive connection per
	// sender, and reads the answer with a minimal HTTP/1.1 parser: the
	// peer receives the same requests, while the load generator costs a
	// fraction of the CPU (as wrk does), which it shares with the peers.
	RawClient Client = "raw"
)

// rawTimeout bounds one request of the raw client (a peer that stops answering).
const rawTimeout = 30 * time.Second

// rawSender is one sender of the raw client: its connection and its
// request bytes around the delivery GUID.
type rawSender struct {
	addr       string
	head, tail []byte // the request before the GUID, and from after it to the end of the body
	req        []byte
	conn       net.Conn
	r          *bufio.Reader
}

// newRawSender prepares the request net/http's client would write for a
// signed delivery of payload to target (http://host:port/path).
func newRawSender(target, event, secret string, payload []byte) (*rawSender, error) {
	u, err := url.Parse(target)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("ingestbench: raw client needs an http:// URL, got %q", target)
	}
	path := u.RequestURI()
	var head bytes.Buffer
	fmt.Fprintf(&head, "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: Go-http-client/1.1\r\nContent-Length: %d\r\n"+
		"Content-Type: application/json\r\nX-Github-Delivery: ", path, u.Host, len(payload))
	tail := fmt.Appendf(nil, "\r\nX-Github-Event: %s\r\nX-Hub-Signature-256: %s\r\n\r\n", event, githubhook.SignatureValue(secret, payload))
	tail = append(tail, payload...)
	return &rawSender{addr: u.Host, head: head.Bytes(), tail: tail}, nil
}

// send posts one delivery and reads its answer; any 2xx counts.
func (s *rawSender) send(ctx context.Context, guid string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.conn == nil {
		c, err := net.DialTimeout("tcp", s.addr, rawTimeout)
		if err != nil {
			return err
		}
		s.conn, s.r = c, bufio.NewReaderSize(c, 4096)
	}
	s.req = append(append(append(s.req[:0], s.head...), guid...), s.tail...)
	_ = s.conn.SetDeadline(time.Now().Add(rawTimeout))
	status, keep, err := s.roundTrip()
	if err != nil || !keep {
		s.close()
	}
	if err != nil {
		return err
	}
	if status/100 != 2 {
		return fmt.Errorf("ingestbench: delivery %s answered %d", guid, status)
	}
	return nil
}

// roundTrip writes the request and reads the answer: its status, and
// whether the connection stays open.
func (s *rawSender) roundTrip() (status int, keep bool, err error) {
	if _, err := s.conn.Write(s.req); err != nil {
		return 0, false, err
	}
	line, err := s.r.ReadSlice('\n')
	if err != nil {
		return 0, false, err
	}
	// HTTP/1.1 200 OK
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, false, fmt.Errorf("ingestbench: bad status line %q", line)
	}
	if status, err = strconv.Atoi(string(line[9:12])); err != nil {
		return 0, false, fmt.Errorf("ingestbench: bad status line %q", line)
	}
	length, chunked, keep := -1, false, true
	for {
		line, err := s.r.ReadSlice('\n')
		if err != nil {
			return 0, false, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		k, v, _ := bytes.Cut(line, []byte(":"))
		v = bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(v)); err != nil || length < 0 {
				return 0, false, fmt.Errorf("ingestbench: bad Content-Length %q", v)
			}
		case bytes.EqualFold(k, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(v, []byte("chunked"))
		case bytes.EqualFold(k, []byte("Connection")):
			keep = !bytes.EqualFold(v, []byte("close"))
		}
	}
	switch {
	case chunked:
		err = s.discardChunked()
	case length >= 0:
		_, err = s.r.Discard(length)
	default: // no length: the body runs to the end of the connection
		_, err = io.Copy(io.Discard, s.r)
		keep = false
	}
	return status, keep, err
}

// discardChunked reads a chunked body to its end.
func (s *rawSender) discardChunked() error {
	for {
		line, err := s.r.ReadSlice('\n')
		if err != nil {
			return err
		}
		size, _, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(";"))
		n, err := strconv.ParseInt(string(size), 16, 64)
		if err != nil || n < 0 {
			return errors.New("ingestbench: bad chunk size")
		}
		if n == 0 { // trailers, then the empty line
			for {
				line, err := s.r.ReadSlice('\n')
				if err != nil {
					return err
				}
				if len(bytes.TrimRight(line, "\r\n")) == 0 {
					return nil
				}
			}
		}
		if _, err := s.r.Discard(int(n) + 2); err != nil {
			return err
		}
	}
}

func (s *rawSender) close() {
	if s.conn != nil {
		s.conn.Close()
		s.conn, s.r = nil, nil
	}
}
