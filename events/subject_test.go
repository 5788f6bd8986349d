package events

import (
	"errors"
	"strings"
	"testing"
)

func TestTokenRule(t *testing.T) {
	cases := []struct{ in, want string }{
		{"issues", "issues"},
		{"pull_request", "pull_request"},
		{"hr.expense", "hr_expense"},
		{"account.move.line", "account_move_line"},
		{"", "_"},
		{"a b", "a%20b"},
		{"*", "%2A"},
		{">", "%3E"},
		{"50%", "50%25"},
		{"café", "caf%C3%A9"},
		{"tab\there", "tab%09here"},
		{"Route-1", "Route-1"},
	}
	for _, c := range cases {
		if got := Token(c.in); got != c.want {
			t.Errorf("Token(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestBuildersAndParsersRoundTrip(t *testing.T) {
	if s := GitHubSubject("issues", ""); s != "github.issues.none" {
		t.Fatalf("github subject = %q", s)
	}
	ev, act, err := ParseGitHubSubject(GitHubSubject("check run", "re>quested"))
	if err != nil || ev != "check run" || act != "re>quested" {
		t.Fatalf("parse = %q %q %v", ev, act, err)
	}
	if s := OdooEventSubject("hr.expense", "created"); s != "odoo.event.hr_expense.created" {
		t.Fatalf("odoo subject = %q", s)
	}
	m, src, err := ParseOdooEventSubject("odoo.event.hr_expense.created")
	if err != nil || m != "hr_expense" || src != "created" {
		t.Fatalf("parse odoo = %q %q %v", m, src, err)
	}
	if m, op, err := ParseOdooCmdSubject(OdooCmdSubject("res.partner", "upsert")); err != nil || m != "res_partner" || op != "upsert" {
		t.Fatalf("parse cmd = %q %q %v", m, op, err)
	}
	if s, k, err := ParseJobSubject(JobSubject("ocr", "extract")); err != nil || s != "ocr" || k != "extract" {
		t.Fatalf("parse job = %q %q %v", s, k, err)
	}
	if s, k, err := ParseResultSubject(ResultSubject("ocr", "extract")); err != nil || s != "ocr" || k != "extract" {
		t.Fatalf("parse result = %q %q %v", s, k, err)
	}
	r, orig, err := ParseDLQSubject(DLQSubject("my route", "github.issues.opened"))
	if err != nil || r != "my route" || orig != "github.issues.opened" {
		t.Fatalf("parse dlq = %q %q %v", r, orig, err)
	}
	if tg, st, err := ParseHealthSubject(HealthSubject("odoo", "down")); err != nil || tg != "odoo" || st != "down" {
		t.Fatalf("parse health = %q %q %v", tg, st, err)
	}
}

func TestParsersRejectWrongShapes(t *testing.T) {
	for _, s := range []string{"", "github", "github.issues", "github.issues.opened.extra", "github..x", "jobs.a.*", "odoo.event.x", "dlq.route", "results.a b.c"} {
		_, _, err1 := ParseGitHubSubject(s)
		_, _, err2 := ParseJobSubject(s)
		_, _, err3 := ParseDLQSubject(s)
		if err1 == nil && strings.HasPrefix(s, "github") || err2 == nil && strings.HasPrefix(s, "jobs") || err3 == nil && strings.HasPrefix(s, "dlq") {
			t.Errorf("%q parsed", s)
		}
		if err1 != nil && !errors.Is(err1, ErrSubject) {
			t.Errorf("%q: error %v does not wrap ErrSubject", s, err1)
		}
	}
}

func TestValidateFilter(t *testing.T) {
	for _, ok := range []string{"github.>", "github.issues.*", "odoo.event.*.created", ">"} {
		if err := ValidateFilter(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "github.>.x", "a..b", "a.b*", "a. b"} {
		if err := ValidateFilter(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if err := ValidateSubject("github.*"); err == nil {
		t.Error("wildcard accepted in a publish subject")
	}
}

// FuzzSubjects proves that no name yields an invalid subject, that tokens
// never hold '.', '*', '>' or whitespace, and that names without dots come
// back unchanged through the parsers.
func FuzzSubjects(f *testing.F) {
	for _, s := range []string{"", "issues", "hr.expense", "a b", "*", ">", "%", "%2A", "é", "\x00", ".", "..", "_"} {
		f.Add(s, "opened")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, tok := range []string{Token(a), Token(b)} {
			if tok == "" || strings.ContainsAny(tok, ".*> \t\r\n") {
				t.Fatalf("bad token %q", tok)
			}
		}
		subjects := []string{GitHubSubject(a, b), OdooEventSubject(a, b), OdooCmdSubject(a, b), JobSubject(a, b),
			ResultSubject(a, b), HealthSubject(a, b), DLQSubject(a, GitHubSubject(b, a)), JobScheduleSubject(a, b, a)}
		for _, s := range subjects {
			if err := ValidateSubject(s); err != nil {
				t.Fatalf("invalid subject from %q %q: %v", a, b, err)
			}
		}
		if !strings.Contains(a, ".") && a != "" && !strings.Contains(b, ".") && b != "" {
			ev, act, err := ParseGitHubSubject(GitHubSubject(a, b))
			if err != nil || ev != a || act != b {
				t.Fatalf("round trip %q %q → %q %q %v", a, b, ev, act, err)
			}
			r, orig, err := ParseDLQSubject(DLQSubject(a, JobSubject(b, a)))
			if err != nil || r != a || orig != JobSubject(b, a) {
				t.Fatalf("dlq round trip %q → %q %q %v", a, r, orig, err)
			}
		}
	})
}
