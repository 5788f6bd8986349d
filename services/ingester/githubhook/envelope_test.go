package githubhook

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestSummaryNamesSourceTypeAndSubject(t *testing.T) {
	cases := []struct {
		name, event, body                string
		source, typ, subject, inst, repo string
	}{
		{"repository", "issues", `{"action":"opened","repository":{"html_url":"https://github.com/o/r","full_name":"o/r"},"organization":{"url":"https://api.github.com/orgs/o"}}`,
			"https://github.com/o/r", "com.github.issues.opened", "github.issues.opened", "", "o/r"},
		{"organization only", "ping", `{"organization":{"url":"https://api.github.com/orgs/o"}}`,
			"https://api.github.com/orgs/o", "com.github.ping", "github.ping.none", "", ""},
		{"installation only", "installation", `{"action":"created","installation":{"id":2311213}}`,
			"urn:github:installation:2311213", "com.github.installation.created", "github.installation.created", "2311213", ""},
		{"nothing", "meta", `{"hook_id":1}`, "https://github.com", "com.github.meta", "github.meta.none", "", ""},
		{"odd shapes are ignored", "x", `{"action":7,"repository":"r","installation":{"id":"nan"}}`,
			"https://github.com", "com.github.x", "github.x.none", "", ""},
		{"action with a dot", "e", `{"action":"a.b"}`, "https://github.com", "com.github.e.a_b", "github.e.a_b", "", ""},
		{"header-unsafe repository name", "e", `{"repository":{"html_url":"https://github.com/o/r","full_name":"o/r\nX: y"}}`,
			"https://github.com/o/r", "com.github.e", "github.e.none", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := parse(ContentJSON, []byte(c.body))
			if err != nil {
				t.Fatal(err)
			}
			e := Delivery{Event: c.event, GUID: "g", Body: []byte(c.body), Received: time.Now()}.event(s)
			if e.Source != c.source || e.Type != c.typ || s.subject(c.event) != c.subject ||
				e.Header.Get(HeaderInstallationID) != c.inst || e.Header.Get(HeaderRepository) != c.repo {
				t.Fatalf("source %q type %q subject %q headers %v", e.Source, e.Type, s.subject(c.event), e.Header)
			}
		})
	}
}

func TestParseRefusesWhatIsNotAPayload(t *testing.T) {
	form := "payload=" + url.QueryEscape(`{"action":"closed"}`)
	if s, err := parse(ContentForm, []byte(form)); err != nil || s.action != "closed" {
		t.Fatalf("form payload: %v %+v", err, s)
	}
	for _, c := range []struct{ ct, body string }{
		{ContentJSON, ``}, {ContentJSON, `{`}, {ContentJSON, `"x"`}, {ContentJSON, `null`}, {ContentJSON, `{} {}`},
		{ContentForm, `a=%zz`}, {ContentForm, `a=1`}, {ContentForm, `payload=[1]`},
	} {
		if _, err := parse(c.ct, []byte(c.body)); !errors.Is(err, errMalformed) {
			t.Errorf("%s %q: %v", c.ct, c.body, err)
		}
	}
}

// A signed payload nested past encoding/json's depth is refused; before,
// gjson's recursive validation overflowed the stack and killed the process.
func TestParseRefusesPayloadsNestedTooDeep(t *testing.T) {
	deep := func(n int, open, close string) string {
		return `{"a":` + strings.Repeat(open, n) + strings.Repeat(close, n) + `}`
	}
	if _, err := parse(ContentJSON, []byte(deep(MaxDepth-1, "[", "]"))); err != nil {
		t.Fatalf("%d levels: %v", MaxDepth, err)
	}
	for name, body := range map[string]string{
		"arrays":     deep(MaxDepth, "[", "]"),
		"objects":    deep(MaxDepth, `{"a":`, "}"),
		"8 MiB of [": `{"a":` + strings.Repeat("[", 8<<20),
		"form":       "payload=" + url.QueryEscape(deep(MaxDepth, "[", "]")),
	} {
		ct := ContentJSON
		if name == "form" {
			ct = ContentForm
		}
		if _, err := parse(ct, []byte(body)); !errors.Is(err, errMalformed) || !strings.Contains(err.Error(), "nested") {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Brackets and escaped quotes inside strings are not nesting.
	s := `{"a":"` + strings.Repeat(`[\"{`, 3*MaxDepth) + `"}`
	if _, err := parse(ContentJSON, []byte(s)); err != nil {
		t.Errorf("brackets in a string: %v", err)
	}
}
