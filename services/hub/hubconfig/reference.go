package hubconfig

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/insightpulse/pulsehub/events/config"
)

// modulePrefix is the import path of the repository's root.
const modulePrefix = "github.com/insightpulse/pulsehub/"

// Reference renders the configuration reference (docs/configuration.md)
// from the config structs themselves: every field's YAML path, type,
// default, environment variable and the comment written beside it in the
// source under root (the repository). One reference, never written twice.
func Reference(root string) (string, error) {
	docs := &fieldDocs{root: root, parsed: map[string]map[string]*ast.StructType{}}
	c := Default()
	env := map[string][]string{}
	for _, v := range config.EnvVars(&c) {
		env[v.Path] = append(env[v.Path], v.Name)
	}
	var b strings.Builder
	b.WriteString("# Configuration reference\n\n")
	b.WriteString("Generated from the config structs by `go test ./services/hub/hubconfig -run TestReference -update`; do not edit by hand.\n\n")
	b.WriteString("`hub.yaml` (or `--config FILE`) over these defaults, then `PULSEHUB_*` environment variables. ")
	b.WriteString("A secret field also reads `<VARIABLE>_FILE`, and in YAML accepts `{env: NAME}` or `{file: PATH}`. ")
	b.WriteString("`<name>` marks a map key: the variable exists for the keys the file defines. Check a file with `hub config check`.\n\n")
	fmt.Fprintf(&b, "Every secret's value is replaced by `%s` in whatever the hub logs, stores from error text or shows; "+
		"secrets shorter than %d bytes are not (they would blank ordinary words), and `hub run` and `hub config check` warn about them. "+
		"An `http://` URL to another machine that would carry credentials (an Odoo instance, a service with `auth`, the GitHub App's `base_url`) "+
		"is refused unless its section sets `%s: true`; loopback is always allowed.\n", config.Redacted, config.MinSecretBytes, config.AllowInsecureHTTPKey)
	t := reflect.TypeOf(c)
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _ := yamlTag(f)
		if !f.IsExported() || name == "-" || name == "" {
			continue
		}
		fmt.Fprintf(&b, "\n## `%s`\n\n", name)
		if d, err := docs.comment(t, f.Name); err == nil && d != "" {
			b.WriteString(d + "\n\n")
		}
		b.WriteString("| key | type | default | environment | what |\n|---|---|---|---|---|\n")
		rows, err := docs.rows(f.Type, reflect.ValueOf(c).Field(i), name, env)
		if err != nil {
			return "", err
		}
		b.WriteString(rows)
	}
	return b.String(), nil
}

type fieldDocs struct {
	root   string
	parsed map[string]map[string]*ast.StructType // package dir → type name → struct
}

func (d *fieldDocs) rows(t reflect.Type, v reflect.Value, path string, env map[string][]string) (string, error) {
	var b strings.Builder
	switch {
	case t.Kind() == reflect.Map && t.Elem().Kind() == reflect.Struct:
		return d.rows(t.Elem(), reflect.New(t.Elem()).Elem(), path+".<name>", env)
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct && t.Elem() != secretType:
		return d.rows(t.Elem(), reflect.New(t.Elem()).Elem(), path+"[]", env)
	case t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct:
		return d.rows(t.Elem(), reflect.New(t.Elem()).Elem(), path, env)
	case t.Kind() != reflect.Struct || isLeaf(t):
		return "", nil
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, inline := yamlTag(f)
		if !f.IsExported() || name == "-" {
			continue
		}
		p := path
		if !inline {
			p = path + "." + name
		}
		fv := v.Field(i)
		if !isLeaf(f.Type) {
			sub, err := d.rows(f.Type, fv, p, env)
			if err != nil {
				return "", err
			}
			b.WriteString(sub)
			continue
		}
		comment, err := d.comment(t, f.Name)
		if err != nil {
			return "", err
		}
		vars := env[strings.ReplaceAll(p, ".<name>", "")]
		envCol := "—"
		if strings.Contains(p, "<name>") || strings.Contains(p, "[]") {
			envCol = "`" + strings.ReplaceAll(config.EnvName(strings.ReplaceAll(p, "<name>", "KEYNAME")), "KEYNAME", "<NAME>") + "`"
			if strings.Contains(p, "[]") {
				envCol = "—"
			}
		} else if len(vars) > 0 {
			envCol = "`" + strings.Join(vars, "`, `") + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", p, typeName(f.Type), defaultOf(fv), envCol, escape(comment))
	}
	return b.String(), nil
}

// comment is the source comment of field name in struct type t.
func (d *fieldDocs) comment(t reflect.Type, field string) (string, error) {
	if !strings.HasPrefix(t.PkgPath(), modulePrefix) {
		return "", nil
	}
	dir := filepath.Join(d.root, strings.TrimPrefix(t.PkgPath(), modulePrefix))
	types, ok := d.parsed[dir]
	if !ok {
		var err error
		if types, err = parseStructs(dir); err != nil {
			return "", err
		}
		d.parsed[dir] = types
	}
	st, ok := types[t.Name()]
	if !ok {
		return "", nil
	}
	for _, f := range st.Fields.List {
		for _, n := range f.Names {
			if n.Name != field {
				continue
			}
			text := ""
			if f.Comment != nil {
				text = f.Comment.Text()
			}
			if f.Doc != nil {
				text = f.Doc.Text() + " " + text
			}
			return strings.Join(strings.Fields(text), " "), nil
		}
	}
	return "", nil
}

func parseStructs(dir string) (map[string]*ast.StructType, error) {
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, dir, func(fi fs.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, parser.ParseComments)
	if err != nil {
		return nil, fmt.Errorf("config reference: parse %s: %w", dir, err)
	}
	out := map[string]*ast.StructType{}
	for _, p := range pkgs {
		for _, f := range p.Files {
			ast.Inspect(f, func(n ast.Node) bool {
				if ts, ok := n.(*ast.TypeSpec); ok {
					if st, ok := ts.Type.(*ast.StructType); ok {
						out[ts.Name.Name] = st
					}
				}
				return true
			})
		}
	}
	return out, nil
}

var (
	secretType   = reflect.TypeOf(config.Secret{})
	durationType = reflect.TypeOf(time.Duration(0))
)

func isLeaf(t reflect.Type) bool {
	if t == secretType || t == durationType || (t.Kind() == reflect.Slice && t.Elem() == secretType) {
		return true
	}
	switch t.Kind() {
	case reflect.Struct:
		return false
	case reflect.Map:
		return t.Elem().Kind() != reflect.Struct
	case reflect.Slice:
		return t.Elem().Kind() != reflect.Struct
	case reflect.Pointer:
		return t.Elem().Kind() != reflect.Struct
	}
	return true
}

func typeName(t reflect.Type) string {
	switch {
	case t == secretType:
		return "secret"
	case t == durationType:
		return "duration"
	case t.Kind() == reflect.Slice && t.Elem() == secretType:
		return "list of secrets"
	case t.Kind() == reflect.Slice:
		return "list of " + typeName(t.Elem())
	case t.Kind() == reflect.Map:
		return "map of " + typeName(t.Elem())
	case t.Kind() == reflect.Interface:
		return "any"
	}
	return t.Kind().String()
}

func defaultOf(v reflect.Value) string {
	if !v.IsValid() || v.IsZero() {
		return "—"
	}
	switch {
	case v.Type() == secretType:
		return "—"
	case v.Type() == durationType:
		return "`" + time.Duration(v.Int()).String() + "`"
	}
	return "`" + fmt.Sprint(v.Interface()) + "`"
}

func yamlTag(f reflect.StructField) (string, bool) {
	name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if strings.Contains(opts, "inline") {
		return "", true
	}
	if name == "" {
		name = strings.ToLower(f.Name)
	}
	return name, false
}

func escape(s string) string { return strings.ReplaceAll(s, "|", "\\|") }
