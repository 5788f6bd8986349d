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
// never hold '.', '*', '>' or whitespace, that names within their limits
// make tokens and subjects within theirs (and a dead letter's subject fits
// whatever the original's length), and that names without dots come back
// unchanged through the parsers.
//
//	go test -run '^$' -fuzz FuzzSubjects -fuzztime 60s -fuzzminimizetime 100x .
func FuzzSubjects(f *testing.F) {
	for _, s := range []string{"", "issues", "hr.expense", "a b", "*", ">", "%", "%2A", "é", "\x00", ".", "..", "_",
		strings.Repeat("é", MaxNameLen/2), strings.Repeat("x", MaxNameLen+1), strings.Repeat("a.", 2100)} {
		f.Add(s, "opened")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, name := range []string{a, b} {
			tok := Token(name)
			if tok == "" || strings.ContainsAny(tok, ".*> \t\r\n") {
				t.Fatalf("bad token %q", tok)
			}
			if len(tok) > 3*max(len(name), 1) || CheckName("name", name) == nil && len(tok) > MaxTokenLen {
				t.Fatalf("token of %d bytes from a name of %d", len(tok), len(name))
			}
			if (CheckName("name", name) == nil) != (len(name) <= MaxNameLen) {
				t.Fatalf("CheckName of a name of %d bytes", len(name))
			}
		}
		subjects := []string{GitHubSubject(a, b), OdooEventSubject(a, b), OdooCmdSubject(a, b), JobSubject(a, b),
			ResultSubject(a, b), HealthSubject(a, b), DLQSubject(a, GitHubSubject(b, a)), JobScheduleSubject(a, b, a)}
		bounded := CheckName("a", a) == nil && CheckName("b", b) == nil
		for _, s := range subjects {
			err := ValidateSubject(s)
			switch {
			case err != nil && (bounded || !errors.Is(err, ErrTooLong)):
				t.Fatalf("invalid subject from %q %q: %v", a, b, err)
			case err == nil && len(s) > MaxSubjectLen:
				t.Fatalf("a subject of %d bytes passed", len(s))
			case bounded && CheckSubject(s) != nil:
				t.Fatalf("CheckSubject(%q): %v", s, CheckSubject(s))
			}
		}
		if IsName(a) {
			// A route's dead letter fits whatever the original's length.
			long := longOriginal + "." + Token(b)
			if d := DLQSubject(a, long); len(d) > MaxSubjectLen || ValidateSubject(d) != nil {
				t.Fatalf("dead letter of a %d-byte subject: %d bytes, %v", len(long), len(d), ValidateSubject(d))
			}
		}
		if !strings.Contains(a, ".") && a != "" && !strings.Contains(b, ".") && b != "" && bounded {
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

// longOriginal is a subject as long as a server's default
// max_control_line lets a client publish.
var longOriginal = "jobs.ocr." + strings.Repeat("x", 4000)

func TestNamesAndSubjectsHaveLimits(t *testing.T) {
	at, over := strings.Repeat("a", MaxNameLen), strings.Repeat("a", MaxNameLen+1)
	if CheckName("m", at) != nil || !errors.Is(CheckName("_model", over), ErrTooLong) || !IsName(at) || IsName(over) || IsName("a.b") || IsName("") {
		t.Fatal("names")
	}
	if err := CheckName("_model", over); !strings.Contains(err.Error(), "_model is 65 bytes long, the most is 64") {
		t.Fatalf("error %q", err)
	}
	if CheckID("id", strings.Repeat("1", MaxIDLen)) != nil || CheckID("id", strings.Repeat("1", MaxIDLen+1)) == nil {
		t.Fatal("ids")
	}
	if !IsOdooModel("account.move.line") || !IsOdooModel(strings.Repeat("m", MaxNameLen)) || IsOdooModel(strings.Repeat("m", MaxNameLen+1)) ||
		IsOdooModel("Res.Partner") || IsOdooModel("res..partner") || IsOdooModel("") {
		t.Fatal("Odoo models")
	}
	fits := "odoo.event." + strings.Repeat("m", MaxSubjectLen-len("odoo.event.")-2) + ".s"
	tooLong := fits + "x"
	if len(fits) != MaxSubjectLen || ValidateSubject(fits) != nil || ValidateFilter(fits) != nil {
		t.Fatalf("a subject of %d bytes refused", len(fits))
	}
	for _, err := range []error{ValidateSubject(tooLong), ValidateFilter(tooLong), CheckSubject(tooLong)} {
		if !errors.Is(err, ErrSubject) || !errors.Is(err, ErrTooLong) || len(err.Error()) > 200 {
			t.Fatalf("subject of %d bytes: %v", len(tooLong), err)
		}
	}
	if !IsPermanent(CheckSubject(tooLong)) || !IsPermanent(CheckSubject("a..b")) || CheckSubject(fits) != nil {
		t.Fatal("CheckSubject is not a permanent error")
	}
	// The subject of the issue: a 4,060-character model.
	if err := CheckSubject(OdooEventSubject(strings.Repeat("x", 4060), "src")); !errors.Is(err, ErrTooLong) {
		t.Fatalf("4,060-character model: %v", err)
	}
}

func TestTheDeadLetterOfALongSubjectFits(t *testing.T) {
	short := JobSubject("ocr", "extract")
	if DLQSubject("jobs-ocr", short) != "dlq.jobs-ocr.jobs.ocr.extract" {
		t.Fatal(DLQSubject("jobs-ocr", short))
	}
	long := "jobs.ocr." + strings.Repeat("x", 4000)
	other := "jobs.ocr." + strings.Repeat("x", 3999) + "y"
	d, d2 := DLQSubject("jobs-ocr", long), DLQSubject("jobs-ocr", other)
	if len(d) > MaxSubjectLen || ValidateSubject(d) != nil || !strings.HasPrefix(d, "dlq.jobs-ocr.jobs.ocr._long_") || d == d2 {
		t.Fatalf("dead letter subjects %q %q", d, d2)
	}
	if r, orig, err := ParseDLQSubject(d); err != nil || r != "jobs-ocr" || !strings.HasPrefix(orig, "jobs.ocr._long_") {
		t.Fatalf("parse %q: %q %q %v", d, r, orig, err)
	}
	// Long tokens all along: the leading ones that fit are kept, whole.
	many := strings.Repeat("abcdefghij.", 300) + "k"
	d = DLQSubject("r", many)
	if len(d) > MaxSubjectLen || ValidateSubject(d) != nil || !strings.HasPrefix(d, "dlq.r.abcdefghij.abcdefghij.") {
		t.Fatalf("dead letter subject %q (%d bytes)", d, len(d))
	}
	// An original just within the limit is kept as it is.
	fits := "jobs.ocr." + strings.Repeat("x", MaxSubjectLen-len("dlq.r.")-len("jobs.ocr."))
	if d := DLQSubject("r", fits); d != "dlq.r."+fits {
		t.Fatalf("cut a subject that fits: %d bytes", len(d))
	}
}

func TestResultSubjectsStayUnderResults(t *testing.T) {
	for _, ok := range []string{"results.ocr.extract", "results.x", "results.a.b.c.d"} {
		if err := ValidateResultSubject(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"odoo.cmd.res_partner.unlink", "github.push.none", "results", "results.", "results.*", "resultsx.a",
		"$KV.jobs.x", "results.a b", "results." + strings.Repeat("x", MaxSubjectLen)} {
		if err := ValidateResultSubject(bad); !errors.Is(err, ErrSubject) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
