package intake

import (
	"math"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/insightpulse/pulsehub/events/service"
)

// The answer to a stored event is what service.WriteJSON writes, byte for
// byte and header for header, also for strings it has to escape.
func TestAcceptedAnswerIsWriteJSONs(t *testing.T) {
	for _, a := range []Accepted{
		{ID: "72d3162e-cc78-11e3-81ab-4c9367dc0958", Stream: "GITHUB", Seq: 1},
		{ID: "x", Stream: "ODOO", Seq: math.MaxUint64, Duplicate: true},
		{},
		{ID: `a"b\c`, Stream: "<&>"},
		{ID: "é\n\x00\x7f", Stream: "GITHUB"},
		{ID: "~ !#$%'()*+,./:;=?@[]^_`{|}", Stream: "S"},
	} {
		want, got := httptest.NewRecorder(), httptest.NewRecorder()
		service.WriteJSON(want, http.StatusAccepted, a)
		writeAnswer(got, http.StatusAccepted, a)
		if got.Code != want.Code || got.Body.String() != want.Body.String() ||
			len(got.Header()) != len(want.Header()) || got.Header().Get("Content-Type") != want.Header().Get("Content-Type") ||
			got.Header().Get("Cache-Control") != want.Header().Get("Cache-Control") {
			t.Errorf("%+v: wrote %d %v %q, WriteJSON %d %v %q", a, got.Code, got.Header(), got.Body, want.Code, want.Header(), want.Body)
		}
	}
}
