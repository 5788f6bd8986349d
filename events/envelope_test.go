package events

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestEnvelopeRoundTrip(t *testing.T) {
	ctx := WithCorrelationID(context.Background(), "corr-1")
	e := New(ctx, "https://github.com/octo/repo", "com.github.issues.opened", []byte(`{"a":1}`))
	e.Subject = "issues/7"
	e.TraceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	e.Header = map[string][]string{"GitHub-Event": {"issues"}, HeaderID: {"overwritten"}}
	m := e.Msg("github.issues.opened")
	if m.Header.Get(HeaderMsgID) != e.ID || m.Header.Get(HeaderID) != e.ID || m.Header.Get(HeaderSpecVersion) != "1.0" {
		t.Fatalf("headers = %v", m.Header)
	}
	got := FromMsg(m.Header, m.Data)
	if got.ID != e.ID || got.Source != e.Source || got.Type != e.Type || got.Subject != e.Subject ||
		got.CorrelationID != "corr-1" || got.TraceParent != e.TraceParent || string(got.Data) != `{"a":1}` ||
		!got.Time.Equal(e.Time) || got.Header.Get("GitHub-Event") != "issues" {
		t.Fatalf("round trip: got %+v want %+v", got, e)
	}
	if err := got.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestCorrelationPropagatesToDerivedEvents(t *testing.T) {
	root := New(context.Background(), "src", "t", nil)
	if root.CorrelationID != root.ID {
		t.Fatalf("a new event without context correlates to itself: %+v", root)
	}
	root.TraceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	child := root.Derive("dispatcher", "dev.pulsehub.result", nil)
	grandchild := FromMsg(child.Msg("x").Header, nil).Derive("writer", "y", nil)
	if child.ID == root.ID || child.CausationID != root.ID || child.CorrelationID != root.ID || child.TraceParent != root.TraceParent {
		t.Fatalf("child = %+v", child)
	}
	if grandchild.CorrelationID != root.ID || grandchild.CausationID != child.ID {
		t.Fatalf("grandchild = %+v", grandchild)
	}
}

func TestFromMsgToleratesHandPublishedMessages(t *testing.T) {
	e := FromMsg(map[string][]string{HeaderMsgID: {"m1"}, HeaderTime: {"not a time"}}, []byte("x"))
	if e.ID != "m1" || !e.Time.IsZero() {
		t.Fatalf("e = %+v", e)
	}
	if err := FromMsg(nil, nil).Validate(); err == nil {
		t.Fatal("empty envelope validated")
	}
}

func TestStableIDIsDeterministicAndUnambiguous(t *testing.T) {
	a := StableID("res.partner", "7", "2026-11-22 05:14:39")
	if a != StableID("res.partner", "7", "2026-11-22 05:14:39") {
		t.Fatal("not deterministic")
	}
	if StableID("ab", "c") == StableID("a", "bc") {
		t.Fatal("parts are ambiguous")
	}
}

func TestClassify(t *testing.T) {
	cases := []struct {
		err  error
		want Kind
	}{
		{errors.New("boom"), KindTransient},
		{Permanent(errors.New("bad")), KindPermanent},
		{errors.Join(errors.New("ctx"), Permanentf("bad %d", 1)), KindPermanent},
		{RetryAfter(errors.New("429"), time.Second), KindTransient},
		{fault{transient: false}, KindPermanent},
		{fault{transient: true}, KindTransient},
		{context.DeadlineExceeded, KindTransient},
	}
	for _, c := range cases {
		if got := Classify(c.err); got != c.want {
			t.Errorf("Classify(%v) = %v, want %v", c.err, got, c.want)
		}
	}
	if RetryAfterOf(RetryAfter(errors.New("x"), 3*time.Second)) != 3*time.Second {
		t.Error("RetryAfterOf lost the delay")
	}
	if RetryAfterOf(Transient(delayed{})) != 2*time.Second {
		t.Error("RetryAfterOf ignored a RetryDelay method")
	}
	if Permanent(nil) != nil || Transient(nil) != nil {
		t.Error("nil must stay nil")
	}
}

type fault struct{ transient bool }

func (f fault) Error() string   { return "fault" }
func (f fault) Transient() bool { return f.transient }

type delayed struct{}

func (delayed) Error() string             { return "503" }
func (delayed) RetryDelay() time.Duration { return 2 * time.Second }
