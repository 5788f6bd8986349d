package status

import (
	"testing"
	"time"
)

func TestRankOrderAndWorst(t *testing.T) {
	for i := 1; i < len(All); i++ {
		if All[i-1].Rank() >= All[i].Rank() {
			t.Fatalf("%s does not rank below %s", All[i-1], All[i])
		}
	}
	tests := []struct{ a, b, want Status }{
		{Unknown, OK, OK},
		{OK, Unknown, OK},
		{Warning, Critical, Critical},
		{Down, Critical, Down},
		{Unknown, Unknown, Unknown},
	}
	for _, tc := range tests {
		if got := Worst(tc.a, tc.b); got != tc.want {
			t.Errorf("Worst(%s, %s) = %s, want %s", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestParse(t *testing.T) {
	for _, s := range append(All, Unknown) {
		if got, err := Parse(string(s)); err != nil || got != s {
			t.Errorf("Parse(%q) = %q, %v", s, got, err)
		}
	}
	if _, err := Parse("broken"); err == nil {
		t.Fatal("Parse accepted an unknown status")
	}
}

func TestFailingIsCriticalOrDown(t *testing.T) {
	want := map[Status]bool{Unknown: false, OK: false, Warning: false, Critical: true, Down: true}
	for s, f := range want {
		if s.Failing() != f {
			t.Errorf("%s.Failing() = %v", s, !f)
		}
	}
}

func TestLatencyGrade(t *testing.T) {
	l := Latency{Warning: 2 * time.Second, Critical: 5 * time.Second}
	tests := []struct {
		took time.Duration
		want Status
	}{
		{0, OK},
		{1999 * time.Millisecond, OK},
		{2000 * time.Millisecond, Warning},
		{4999 * time.Millisecond, Warning},
		{5000 * time.Millisecond, Critical},
		{time.Minute, Critical},
	}
	for _, tc := range tests {
		got, msg := l.Grade(tc.took)
		if got != tc.want || (got == OK) != (msg == "") {
			t.Errorf("Grade(%s) = %s %q, want %s", tc.took, got, msg, tc.want)
		}
	}
	if got, _ := (Latency{}).Grade(time.Hour); got != OK {
		t.Errorf("zero thresholds graded an hour %s", got)
	}
}

func TestRound(t *testing.T) {
	if got := Round(1234567 * time.Microsecond); got != 1230*time.Millisecond {
		t.Errorf("Round = %s", got)
	}
	if got := Round(12345 * time.Microsecond); got != 12*time.Millisecond {
		t.Errorf("Round = %s", got)
	}
}
