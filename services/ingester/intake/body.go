package intake

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// ReadBody reads the whole request body, refusing one over limit bytes
// with 413 before reading it when Content-Length says so, and as soon as
// the limit is passed otherwise. ok is false when res is the answer.
func ReadBody(w http.ResponseWriter, r *http.Request, limit int64) (body []byte, res Result, ok bool) {
	tooLarge := Reject(http.StatusRequestEntityTooLarge, OutcomeTooLarge,
		fmt.Sprintf("body is larger than the limit of %d bytes", limit))
	if r.ContentLength > limit {
		return nil, tooLarge, false
	}
	size := r.ContentLength
	if size < 0 || size > 1<<20 {
		size = 512 // unknown or large: let the buffer grow as the body arrives
	}
	buf := make([]byte, 0, size+1)
	b, err := readAll(http.MaxBytesReader(w, r.Body, limit), buf)
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, tooLarge, false
	case err != nil:
		res := Reject(http.StatusBadRequest, OutcomeBadRequest, "could not read the body")
		res.Err = err
		return nil, res, false
	}
	return b, Result{}, true
}

// readAll is io.ReadAll into buf, so a body whose length is announced is
// read without regrowing.
func readAll(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
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
