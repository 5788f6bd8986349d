package githubhook

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/insightpulse/pulsehub/events"
)

// isGUID decides as the pattern it replaced, ^[A-Za-z0-9-]{1,MaxIDLen}$.
func TestIsGUIDIsThePattern(t *testing.T) {
	pattern := regexp.MustCompile(fmt.Sprintf(`^[A-Za-z0-9-]{1,%d}$`, events.MaxIDLen))
	cases := []string{"", "-", "a", "72d3162e-cc78-11e3-81ab-4c9367dc0958", "a b", "a_b", "a\n", "é", "a.b", "A-Z-0-9",
		strings.Repeat("d", events.MaxIDLen), strings.Repeat("d", events.MaxIDLen+1), "\x00", "a\x7f"}
	for c := range 256 {
		cases = append(cases, string([]byte{byte(c)}), "ab"+string([]byte{byte(c)}))
	}
	for _, s := range cases {
		if got, want := isGUID(s), pattern.MatchString(s); got != want {
			t.Errorf("%q: isGUID %v, pattern %v", s, got, want)
		}
	}
}
