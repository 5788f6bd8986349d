package page

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"time"
)

//go:embed page.html
var source string

var tmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	"label":   Label,
	"latency": Latency,
	"clock":   Clock,
	"human":   Human,
	"ago":     Ago,
	"since":   func(t, now time.Time) time.Duration { return now.Sub(t) },
}).Parse(source))

// Template is the page's template set: "page" (the whole document),
// "style" (its stylesheet) and "status" (the targets and routes, the
// console's overview). Clone it before adding to it.
func Template() *template.Template { return tmpl }

// Render writes the page for v, with times relative to v.GeneratedAt.
func Render(w io.Writer, v View) error {
	if v.Refresh <= 0 {
		v.Refresh = 15
	}
	if err := tmpl.Execute(w, v); err != nil {
		return fmt.Errorf("status page: %w", err)
	}
	return nil
}
