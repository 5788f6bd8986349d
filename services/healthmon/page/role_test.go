package page

import (
	"bytes"
	"strings"
	"testing"

	"github.com/insightpulse/pulsehub/services/healthmon/status"
)

func TestPageSaysWhetherThisReplicaPublishes(t *testing.T) {
	for _, c := range []struct {
		role Role
		want string // "" = no role line
	}{
		{Publisher, `<span id="role">this replica stores the statuses and announces their changes</span>`},
		{Standby, `<span id="role">standing by: another replica stores the statuses and announces their changes</span>`},
		{"", ""},
	} {
		t.Run(string(c.role), func(t *testing.T) {
			var b bytes.Buffer
			if err := Render(&b, View{Overall: status.OK, GeneratedAt: now, Role: c.role}); err != nil {
				t.Fatal(err)
			}
			switch page := b.String(); {
			case c.want == "" && strings.Contains(page, `id="role"`):
				t.Fatalf("a page without a role names one")
			case c.want != "" && !strings.Contains(page, c.want):
				t.Fatalf("page lacks %s", c.want)
			}
		})
	}
}
