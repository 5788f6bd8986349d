package intake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// How a body's buffer grows. The first piece is reserved before anything
// is read; every later one only once the bytes that fill the buffer have
// arrived, so a request holds at most FirstPiece plus twice what it has
// sent, whatever it announced.
const (
	// FirstPiece is the buffer a body starts with (its Content-Length when
	// smaller: a typical 7 KB delivery is read into one allocation).
	FirstPiece = 16 << 10
	// MaxStep bounds one growth of the buffer of a body of unknown length
	// (chunked): it doubles up to MaxStep, then grows by MaxStep, so the
	// room it holds beyond its bytes stays under MaxStep. A body whose
	// length is announced doubles up to exactly that length.
	MaxStep = 8 << 20
)

// DefaultMinBodyRate is the default floor on the rate a body arrives at,
// after DefaultMinBodyRateGrace: 64 KiB/s.
const DefaultMinBodyRate = 64 << 10

// DefaultMinBodyRateGrace is how long a body may take before the rate
// floor applies: 5s.
const DefaultMinBodyRateGrace = 5 * time.Second

// BodyRules are how the endpoints read bodies: the budget that bounds the
// bytes held across them, and the rate a body must keep up.
type BodyRules struct {
	Budget *Budget // bytes of bodies in flight, shared by the endpoints; nil = unbounded

	// MinRate is the floor, in bytes per second, under which a body is cut
	// with 408: each byte received buys 1/MinRate of a second after Grace
	// (a body must have arrived by Grace + its size / MinRate). 0 = none.
	MinRate int64
	Grace   time.Duration // before the floor applies
	// ReadTimeout is the server's read_timeout: the floor never moves a
	// read deadline past it (counted from when the body's reading starts).
	// 0 = no such bound.
	ReadTimeout time.Duration
}

// ErrTooSlow is wrapped when a body arrived slower than the rate floor
// (or the read timeout passed).
var ErrTooSlow = errors.New("request body arrived too slowly")

// errTooLarge is returned by the reader when a body passes the limit.
var errTooLarge = errors.New("body larger than the limit")

// reading is what Endpoint hands ReadBody through the request's context:
// the rules and the request's hold on the budget.
type reading struct {
	rules BodyRules
	hold  *Hold
	pool  bool // take the first piece from firstPieces (within an Endpoint)
	// pooled is the body's buffer when it came from firstPieces; it goes
	// back there once the request has been answered (done).
	pooled *[]byte
}

// firstPieces recycles first pieces (FirstPiece bytes each), so the
// bodies of typical deliveries are not a new 16 KiB allocation per
// request. A buffer is only taken within an Endpoint, which gives it back
// after the handler has answered: nothing of the request holds its bytes
// by then (the publish has copied them to the NATS connection, and what
// the answer and the log say was copied out of the body). The budget is
// held as before, for what the body may use.
var firstPieces = sync.Pool{New: func() any { b := make([]byte, FirstPiece); return &b }}

// done gives the request's budget and pooled buffer back.
func (rd *reading) done() {
	rd.hold.Release()
	if p := rd.pooled; p != nil {
		rd.pooled = nil
		firstPieces.Put(p)
	}
}

type readingKey struct{}

// ReadBody reads the whole request body, refusing one over limit bytes
// with 413 before reading it when Content-Length says so, and as soon as
// the limit is passed otherwise. Within an Endpoint, its buffer is held in
// the endpoints' budget as it grows (503 when there is no room within
// BudgetWait) and a body slower than the rate floor is cut (408). ok is
// false when res is the answer.
func ReadBody(w http.ResponseWriter, r *http.Request, limit int64) (body []byte, res Result, ok bool) {
	tooLarge := Reject(http.StatusRequestEntityTooLarge, OutcomeTooLarge,
		fmt.Sprintf("body is larger than the limit of %d bytes", limit))
	if r.ContentLength > limit {
		return nil, tooLarge, false
	}
	rd, _ := r.Context().Value(readingKey{}).(*reading)
	if rd == nil {
		rd = &reading{hold: (*Budget)(nil).Hold()} // outside an Endpoint: no budget, no floor
	}
	b, err := rd.read(r.Context(), w, r, limit)
	if err == nil {
		return b, Result{}, true
	}
	// What is left of the body is not read: the connection cannot carry
	// another request.
	w.Header().Set("Connection", "close")
	switch {
	case errors.Is(err, errTooLarge):
		res = tooLarge
	case errors.Is(err, ErrBusy):
		res = busy()
	case errors.Is(err, ErrTooSlow):
		res = Reject(http.StatusRequestTimeout, OutcomeTooSlow,
			fmt.Sprintf("the body arrived too slowly (under %d bytes/s)", rd.rules.MinRate))
	default:
		res = Reject(http.StatusBadRequest, OutcomeBadRequest, "could not read the body")
	}
	res.Err = err
	return nil, res, false
}

// busy is the answer when the budget has no room.
func busy() Result {
	return Reject(http.StatusServiceUnavailable, OutcomeBusy,
		"the ingester is receiving too many request bodies at once; try again later")
}

// read reads r's body into one buffer that grows as the bytes arrive,
// each growth held in the budget first.
func (rd *reading) read(ctx context.Context, w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	known := r.ContentLength >= 0
	want := limit // the largest the buffer may have to be
	if known {
		want = r.ContentLength
	}
	// Once the body has hit EOF, net/http clears the read deadline itself
	// (it then reads the connection in the background to notice a client
	// that goes away), so the floor's last deadline cannot cancel the
	// request while it is published.
	src := rd.source(w, r.Body)
	var buf []byte
	for {
		if len(buf) < cap(buf) {
			n, err := src.read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			if err == io.EOF {
				return buf, nil
			}
			if err != nil {
				return nil, err
			}
			continue
		}
		if cap(buf) == 0 && want > 0 { // the first piece
			grown, err := rd.grow(ctx, buf, want, known)
			if err != nil {
				return nil, err
			}
			buf = grown
			continue
		}
		// Full: make room only once a byte beyond it has arrived.
		next, err := src.readByte()
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
		if int64(len(buf)) >= want {
			return nil, fmt.Errorf("%w of %d bytes", errTooLarge, limit)
		}
		grown, err := rd.grow(ctx, buf, want, known)
		if err != nil {
			return nil, err
		}
		buf = append(grown, next)
	}
}

// grow gives buf more room, held in the budget before it is allocated.
func (rd *reading) grow(ctx context.Context, buf []byte, want int64, known bool) ([]byte, error) {
	c := int64(cap(buf))
	step := max(c, FirstPiece)
	if !known {
		step = min(step, MaxStep)
	}
	next := min(c+step, want)
	// The old buffer is garbage once copied: the hold counts what the
	// request keeps, not the moment both exist.
	if err := rd.hold.Grow(ctx, next); err != nil {
		return nil, err
	}
	if c == 0 && next <= FirstPiece && rd.pool {
		p := firstPieces.Get().(*[]byte)
		rd.pooled = p
		return (*p)[:0:next], nil
	}
	nb := make([]byte, len(buf), next)
	copy(nb, buf)
	return nb, nil
}

// source reads a body under the rate floor: before each read, the
// connection's read deadline is moved to when the bytes received so far
// stop covering the time taken.
type source struct {
	body     io.Reader
	rules    BodyRules
	rc       *http.ResponseController
	start    time.Time
	received int64
	set      time.Time // the deadline last set; zero = none
}

func (rd *reading) source(w http.ResponseWriter, body io.Reader) *source {
	s := &source{body: body, rules: rd.rules}
	if rd.rules.MinRate > 0 {
		s.rc, s.start = http.NewResponseController(w), time.Now()
	}
	return s
}

// readByte reads one byte; io.EOF only when the body has ended before it.
func (s *source) readByte() (byte, error) {
	one := make([]byte, 1)
	for {
		n, err := s.read(one)
		if n == 1 {
			return one[0], nil // an EOF with it comes again on the next read
		}
		if err != nil {
			return 0, err
		}
	}
}

func (s *source) read(p []byte) (int, error) {
	if s.rc != nil {
		s.deadline()
	}
	n, err := s.body.Read(p)
	s.received += int64(n)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		err = fmt.Errorf("%w: %d bytes in %s: %w", ErrTooSlow, s.received, time.Since(s.start).Round(time.Millisecond), err)
	}
	return n, err
}

// deadline sets the read deadline the floor allows now; it only moves
// later, and is not set again for a move under 10ms (one runtime timer
// update per read is cheap, but not free).
func (s *source) deadline() {
	r := s.rules
	allowed := r.Grace + time.Duration(float64(s.received)/float64(r.MinRate)*float64(time.Second))
	if r.ReadTimeout > 0 {
		allowed = min(allowed, r.ReadTimeout)
	}
	d := s.start.Add(allowed)
	if !s.set.IsZero() && d.Sub(s.set) < 10*time.Millisecond {
		return
	}
	if s.rc.SetReadDeadline(d) == nil {
		s.set = d
	}
}

// MediaType is the request's media type, lower-cased and without
// parameters ("application/json"); "" when absent or unparsable.
func MediaType(r *http.Request) string {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return ""
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return ""
	}
	return strings.ToLower(mt)
}
