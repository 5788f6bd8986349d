package page

import (
	"bytes"
	"strings"
	"testing"

	"github.com/insightpulse/pulsehub/services/healthmon/status"
)

// A route whose latest dead letter carries a trace shows its trace id,
// linked when a trace URL is configured; the link is escaped like
// everything else (an operator's template, a hostile one included, cannot
// add markup or a script URL).
func TestADeadLetterLinksToItsTrace(t *testing.T) {
	const id = "4bf92f3577b34da6a3ce929d0e0e4736"
	v := sampleView()
	v.Routes[0].DeadLetterTrace = id
	v.Routes[0].DeadLetterTraceURL = "http://jaeger:16686/trace/" + id + `?x="><script>alert(1)</script>`
	v.Routes[1].DeadLetterTrace = id
	v.Routes[1].Route = "javascript-link"
	var b bytes.Buffer
	if err := Render(&b, v); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if !strings.Contains(out, `<a href="http://jaeger:16686/trace/`+id+`?x=%22%3e%3cscript%3ealert%281%29%3c/script%3e">trace `+id+`</a>`) {
		t.Fatalf("no escaped link to the trace in:\n%s", out)
	}
	if strings.Contains(out, "<script>alert") {
		t.Fatal("the trace URL's markup reached the page")
	}
	if !strings.Contains(out, "last: trace "+id+"</span>") {
		t.Fatal("a trace id without a URL is not shown as text")
	}

	v = sampleView()
	v.Routes[0].Status = status.Warning
	v.Routes[0].DeadLetterTrace, v.Routes[0].DeadLetterTraceURL = id, "javascript:alert(1)"
	b.Reset()
	if err := Render(&b, v); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), `href="javascript:`) {
		t.Fatal("a javascript: URL became a link")
	}
}
