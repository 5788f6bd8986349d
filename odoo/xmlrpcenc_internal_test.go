package odoo

import (
	"bytes"
	"testing"

	"github.com/kolo/xmlrpc"
)

// The fast encoder writes what kolo/xmlrpc writes (maps of one key, whose
// order kolo does not fix), and leaves other types to kolo.
func TestEncodeMethodCallWritesWhatKoloWrites(t *testing.T) {
	type other struct{ A int }
	for _, params := range [][]any{
		nil,
		{"db", int64(2), "sécret <&> \"'\n\t", "res.partner", "create"},
		{[]any{map[string]any{"name": "Partner 1"}, map[string]any{"ref": "P1"}}, map[string]any{"context": map[string]any{"active_test": false}}},
		{[]any{[]any{"ref", "in", []any{"P1", "P2", 3, 4.5, -7, int32(8), true}}}, []int64{1, 2}, []string{"a", "b"}},
		{1.0e21, 0.1, -0.0, "\x00\ufffd"},
		{[]any{other{A: 1}}},           // kolo's
		{map[string]any{"t": uint(3)}}, // kolo's
	} {
		want, err := xmlrpc.EncodeMethodCall("execute_kw", params...)
		if err != nil {
			t.Fatal(err)
		}
		got, err := encodeMethodCall("execute_kw", params...)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%v:\n got %s\nwant %s", params, got, want)
		}
	}
}

func TestEncodeMethodCallEscapesMemberNames(t *testing.T) {
	got, err := encodeMethodCall("m", map[string]any{"a<b>&": true})
	if err != nil || !bytes.Contains(got, []byte("<name>a&lt;b&gt;&amp;</name>")) {
		t.Fatalf("%s %v", got, err)
	}
}
