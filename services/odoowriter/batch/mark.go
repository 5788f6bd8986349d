package batch

import "errors"

// How an applier tells the batcher what a failed plan needs next.
type mark int

const (
	markIsolate mark = iota + 1 // failed in a call for several plans that does not say which one is bad
	markAgain                   // not applied because another plan of the same call failed
)

type marked struct {
	mark mark
	err  error
}

func (m *marked) Error() string { return m.err.Error() }
func (m *marked) Unwrap() error { return m.err }

// Isolate marks err, the permanent failure of one call made for several
// plans, for every plan of that call: Odoo refused the call but did not
// say which plan it refused, so the batcher runs each of them again on its
// own, and only the bad one fails.
func Isolate(err error) error {
	if err == nil {
		return nil
	}
	return &marked{mark: markIsolate, err: err}
}

// Again marks a plan that was not applied only because another plan of
// the same call failed (Odoo's load rolls every row back and names the
// bad ones): the batcher runs the plans marked Again once more, together.
func Again(err error) error {
	if err == nil {
		return nil
	}
	return &marked{mark: markAgain, err: err}
}

// markOf returns the mark on err and the error under it.
func markOf(err error) (mark, error) {
	var m *marked
	if errors.As(err, &m) {
		return m.mark, m.err
	}
	return 0, err
}

// IsIsolate reports whether err is marked Isolate.
func IsIsolate(err error) bool { m, _ := markOf(err); return m == markIsolate }

// IsAgain reports whether err is marked Again.
func IsAgain(err error) bool { m, _ := markOf(err); return m == markAgain }
