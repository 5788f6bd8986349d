package config

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

var (
	secretType   = reflect.TypeOf(Secret{})
	durationType = reflect.TypeOf(time.Duration(0))
)

// EnvVar is one environment variable a configuration struct reads.
type EnvVar struct {
	Name   string // e.g. PULSEHUB_INGESTER_LISTEN
	Path   string // YAML path, e.g. ingester.listen
	Secret bool   // a Secret field; Name+"_FILE" is read too
}

// EnvVars lists every environment variable the struct behind dst reads,
// sorted by name: derived names and `env` tag aliases, each secret's _FILE
// variant included. Deployment tests use it to check that compose files and
// manifests only set variables a service really reads.
func EnvVars(dst any) []EnvVar {
	var out []EnvVar
	walk(reflect.ValueOf(dst), nil, func(f leaf) {
		for _, name := range f.names {
			out = append(out, EnvVar{Name: name, Path: f.path, Secret: f.secret})
			if f.secret {
				out = append(out, EnvVar{Name: name + "_FILE", Path: f.path, Secret: true})
			}
		}
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// EnvName derives the override variable for a YAML path.
func EnvName(path string) string {
	var b strings.Builder
	b.WriteString(Prefix)
	b.WriteByte('_')
	for _, r := range strings.ToUpper(path) {
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// leaf is a settable scalar field found by walk.
type leaf struct {
	v      reflect.Value
	path   string
	names  []string // alias first, then the derived name
	secret bool
}

func applyEnv(dst any, lookup func(string) (string, bool)) Problems {
	var ps Problems
	walk(reflect.ValueOf(dst), nil, func(f leaf) {
		for _, name := range f.names {
			if err := setFromEnv(f, name, lookup); err != nil {
				ps = append(ps, Problem{Path: f.path, Message: fmt.Sprintf("environment %s: %v", name, err)})
				return
			}
		}
	})
	return ps
}

// setFromEnv applies the first variable that is set. The alias comes first
// in f.names, but is applied last so it wins over the derived name.
func setFromEnv(f leaf, name string, lookup func(string) (string, bool)) error {
	if f.secret {
		if p, ok := lookup(name + "_FILE"); ok && p != "" {
			v, err := readSecretFile(p)
			if err != nil {
				return err
			}
			return setString(f.v, v, "file:"+p)
		}
	}
	v, ok := lookup(name)
	if !ok {
		return nil
	}
	return setString(f.v, v, "env:"+name)
}

func setString(v reflect.Value, s, source string) error {
	switch {
	case v.Type() == secretType:
		v.Set(reflect.ValueOf(newSecret(s, source)))
		return nil
	case v.Type() == durationType:
		d, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		v.SetInt(int64(d))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return err
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, v.Type().Bits())
		if err != nil {
			return err
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(s, 10, v.Type().Bits())
		if err != nil {
			return err
		}
		v.SetUint(n)
	case reflect.Float32, reflect.Float64:
		n, err := strconv.ParseFloat(s, v.Type().Bits())
		if err != nil {
			return err
		}
		v.SetFloat(n)
	case reflect.Slice:
		return setList(v, s, source)
	default:
		return fmt.Errorf("cannot be set from the environment")
	}
	return nil
}

// setList fills a []string or []Secret from a comma-separated value (a
// secret list read from a file is one secret per line).
func setList(v reflect.Value, s, source string) error {
	sep := ","
	if strings.HasPrefix(source, "file:") {
		sep = "\n"
	}
	var parts []string
	for _, p := range strings.Split(s, sep) {
		if p = strings.TrimSpace(p); p != "" {
			parts = append(parts, p)
		}
	}
	out := reflect.MakeSlice(v.Type(), len(parts), len(parts))
	for i, p := range parts {
		if err := setString(out.Index(i), p, source); err != nil {
			return err
		}
	}
	v.Set(out)
	return nil
}

// walk visits every scalar field reachable from v through structs, pointers
// to structs and string-keyed maps of structs. Lists of structs (routes) are
// not overridable from the environment.
func walk(v reflect.Value, path []string, visit func(leaf)) {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	t := v.Type()
	switch {
	case t == secretType || t == durationType || isScalar(t):
		visit(newLeaf(v, path, ""))
		return
	case v.Kind() == reflect.Map && t.Key().Kind() == reflect.String:
		walkMap(v, path, visit)
		return
	case v.Kind() != reflect.Struct:
		return
	}
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name, inline := yamlName(sf)
		if name == "-" {
			continue
		}
		p := path
		if !inline {
			p = append(append([]string{}, path...), name)
		}
		fv := v.Field(i)
		if alias := sf.Tag.Get("env"); alias != "" && isLeafType(fv.Type()) {
			visit(newLeaf(fv, p, alias))
			continue
		}
		walk(fv, p, visit)
	}
}

func walkMap(v reflect.Value, path []string, visit func(leaf)) {
	et := v.Type().Elem()
	if et.Kind() != reflect.Struct || v.IsNil() {
		return
	}
	keys := v.MapKeys()
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	for _, k := range keys {
		cp := reflect.New(et).Elem()
		cp.Set(v.MapIndex(k))
		walk(cp.Addr(), append(append([]string{}, path...), k.String()), visit)
		v.SetMapIndex(k, cp)
	}
}

func newLeaf(v reflect.Value, path []string, alias string) leaf {
	p := strings.Join(path, ".")
	f := leaf{v: v, path: p, secret: v.Type() == secretType || (v.Kind() == reflect.Slice && v.Type().Elem() == secretType)}
	f.names = []string{EnvName(p)}
	if alias != "" && alias != f.names[0] {
		f.names = append(f.names, alias) // applied last, so it wins
	}
	return f
}

func isLeafType(t reflect.Type) bool {
	return t == secretType || t == durationType || isScalar(t)
}

func isScalar(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return true
	case reflect.Slice:
		return t.Elem().Kind() == reflect.String || t.Elem() == secretType
	}
	return false
}

func yamlName(sf reflect.StructField) (name string, inline bool) {
	tag := sf.Tag.Get("yaml")
	name, opts, _ := strings.Cut(tag, ",")
	if strings.Contains(opts, "inline") {
		return "", true
	}
	if name == "" {
		name = strings.ToLower(sf.Name)
	}
	return name, false
}
