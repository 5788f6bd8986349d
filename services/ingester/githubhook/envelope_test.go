package githubhook

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"
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

// summarize reads in one pass what looking each path up with gjson reads:
// the recorded payloads, odd shapes and keys given twice.
func TestSummarizeReadsWhatGjsonPathsRead(t *testing.T) {
	paths := []string{"action", "repository.html_url", "repository.full_name", "organization.url", "installation.id"}
	docs := []string{
		`{}`, `{"action":7,"repository":"r","installation":{"id":"nan"}}`,
		`{"action":"a","action":"b","repository":{"full_name":"x"},"repository":{"html_url":"u","full_name":"y"}}`,
		`{"organization":[1],"organization":{"url":"o"},"installation":{"id":1},"installation":{"id":2}}`,
		`{"act\u0069on":"escaped key","repository":{"html_url":"a\"b"}}`,
		`{"repository":[{"html_url":"in an array"}],"repository":{"full_name":{"html_url":"too deep"}},"repository":{"html_url" : "x" , "full\u005fname":"y"}}`,
		`{"x":{"action":"not top-level"},"organization":"o","organization":{"url":null},"installation":{"id":1.5e3}}`,
		` { "action" : "spaced" } `,
	}
	files, err := filepath.Glob("../testdata/github/*/*.json")
	if err != nil || len(files) < 10 {
		t.Fatalf("%d recorded payloads: %v", len(files), err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(b))
	}
	for _, d := range docs {
		want := gjson.GetMany(d, paths...)
		got, err := summarize([]byte(d))
		if err != nil {
			t.Fatalf("%.60s: %v", d, err)
		}
		for i := range paths {
			if got[i].Type != want[i].Type || got[i].Str != want[i].Str || got[i].Raw != want[i].Raw {
				t.Errorf("%.60s: %s = %v, gjson reads %v", d, paths[i], got[i], want[i])
			}
		}
	}
}

// checkJSON decides as encoding/json.Valid (whose depth limit is MaxDepth).
func FuzzCheckJSON(f *testing.F) {
	files, _ := filepath.Glob("../testdata/github/*/*.json")
	for _, name := range files {
		b, _ := os.ReadFile(name)
		f.Add(b)
	}
	for _, s := range []string{``, ` `, `{}`, `[]`, `{"a":[1,2,{"b":null}]}`, `{"a":1,}`, `[1,]`, `{"a" 1}`, `{,}`, `[,1]`,
		`"\u00e9\n"`, `"\x"`, `"\u12"`, "\"\x01\"", `-0.5e+10`, `01`, `-`, `1.`, `1e`, `.5`, `tru`, `nulls`, `{"a":1}}`, `[[]`, `{} {}`,
		` {"a" : [ true , false , null ] } `, `{"a":"\"}`, `[1 2]`, `{"a":{"b":{}}}`, `{"a":}`, `{1:2}`, "[\"\xff\"]"} {
		f.Add([]byte(s))
	}
	f.Add([]byte(strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth)))
	f.Add([]byte(strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1)))
	f.Fuzz(func(t *testing.T, doc []byte) {
		err := checkJSON(doc, MaxDepth, nil)
		var f [fields]gjson.Result
		if err2 := checkJSON(doc, MaxDepth, func(depth int, parent, key, value []byte) { summaryField(&f, depth, parent, key, value) }); err2 != err {
			t.Fatalf("%q: %v without a visitor, %v with one", doc, err, err2)
		}
		if valid := json.Valid(doc); valid != (err == nil) {
			t.Fatalf("%q: checkJSON %v, encoding/json valid %v", doc, err, valid)
		}
		if err != nil || !bytes.HasPrefix(bytes.TrimLeft(doc, " \t\r\n"), []byte("{")) {
			return
		}
		want := gjson.GetManyBytes(doc, "action", "repository.html_url", "repository.full_name", "organization.url", "installation.id")
		for i := range want {
			if f[i].Type != want[i].Type || f[i].Str != want[i].Str || f[i].Raw != want[i].Raw {
				t.Fatalf("%q: field %d = %v, gjson reads %v", doc, i, f[i], want[i])
			}
		}
	})
}

func TestCheckJSONLimitsDepth(t *testing.T) {
	for depth, want := range map[int]error{3: nil, 4: errTooDeep} {
		doc := strings.Repeat(`{"a":[`, depth/2) + strings.Repeat("{", depth%2) + strings.Repeat("}", depth%2) + strings.Repeat("]}", depth/2)
		if err := checkJSON([]byte(doc), 3, nil); err != want {
			t.Errorf("%d levels under a limit of 3 (%s): %v", depth, doc, err)
		}
	}
	if err := checkJSON([]byte(`[[[[`), 3, nil); err != errTooDeep {
		t.Errorf("unclosed and too deep: %v", err)
	}
}

// BenchmarkParsePush is the payload work of one 7 KB push delivery:
// validation, depth limit and the envelope's fields.
func BenchmarkParsePush(b *testing.B) {
	body, err := os.ReadFile("../testdata/github/push/payload.json")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parse(ContentJSON, body); err != nil {
			b.Fatal(err)
		}
	}
}

// plain8 is exactly "no byte is a quote, a backslash or below 0x20", for
// every byte value in every lane (among plain neighbours, and after a
// zero byte, whose borrow is what could mislead such a test) and random words.
func TestPlain8(t *testing.T) {
	naive := func(b []byte) bool {
		for _, c := range b {
			if c == '"' || c == '\\' || c < 0x20 {
				return false
			}
		}
		return true
	}
	check := func(b []byte) {
		if got, want := plain8(binary.LittleEndian.Uint64(b)), naive(b); got != want {
			t.Fatalf("% x: plain8 %v, want %v", b, got, want)
		}
	}
	for _, fill := range []byte{'a', 0x00, 0x1f, 0x20, 0x21, 0x23, 0x5b, 0x5d, 0x7f, 0x80, 0xff} {
		for lane := range 8 {
			for v := range 256 {
				b := bytes.Repeat([]byte{fill}, 8)
				b[lane] = byte(v)
				check(b)
			}
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, 8)
	for range 1_000_000 {
		binary.LittleEndian.PutUint64(b, rng.Uint64())
		check(b)
	}
}
