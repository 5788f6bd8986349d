package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Prefix starts every environment override.
const Prefix = "PULSEHUB"

// Problem is one thing wrong with a configuration and where it is.
type Problem struct {
	Path    string // YAML path, e.g. routes[2].odoo.model; empty for the whole file
	Line    int    // line in the file, 0 when the value did not come from it
	Message string
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Problems lists every problem found; it is an error when non-empty.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Add appends a problem at path.
func (ps *Problems) Add(path, format string, args ...any) {
	*ps = append(*ps, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

// Err returns ps as an error, or nil when there is nothing wrong.
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	return ps
}

// Validator is implemented by configuration structs that check themselves.
// Validate reports every problem at once, with YAML paths.
type Validator interface {
	Validate() Problems
}

// Options tune Load.
type Options struct {
	// Strict rejects keys the struct does not know. `hub config check` and
	// the hub use it; a single service reading the shared hub.yaml does not,
	// since the file also holds the other services' sections.
	Strict bool
	// LookupEnv reads the environment; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// Override, when set, is applied after the file and the environment
	// and before validation: command-line flags, which win over both.
	Override func()
}

// Load fills dst (a pointer to a struct already holding its defaults) from
// the YAML file at path (skipped when path is empty), then from PULSEHUB_*
// environment variables, then validates it. The error, if any, is Problems
// listing everything wrong at once.
func Load(path string, dst any, opt Options) error {
	var data []byte
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return Problems{{Message: fmt.Sprintf("read config: %v", err)}}
		}
		data = b
	}
	return LoadBytes(data, dst, opt)
}

// LoadBytes is Load for a configuration already in memory.
func LoadBytes(data []byte, dst any, opt Options) error {
	if opt.LookupEnv == nil {
		opt.LookupEnv = os.LookupEnv
	}
	var root yaml.Node
	var problems Problems
	if len(bytes.TrimSpace(data)) > 0 {
		if err := yaml.Unmarshal(data, &root); err != nil {
			return Problems{{Message: fmt.Sprintf("not valid YAML: %v", err)}}
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(opt.Strict)
		if err := dec.Decode(dst); err != nil && !errors.Is(err, io.EOF) {
			problems = append(problems, decodeProblems(err)...)
		}
	}
	problems = append(problems, applyEnv(dst, opt.LookupEnv)...)
	if opt.Override != nil {
		opt.Override()
	}
	if v, ok := dst.(Validator); ok && len(problems) == 0 {
		for _, p := range v.Validate() {
			if p.Line == 0 {
				p.Line = lineOf(&root, p.Path)
			}
			problems = append(problems, p)
		}
	}
	sort.SliceStable(problems, func(i, j int) bool { return problems[i].Line < problems[j].Line })
	return problems.Err()
}

// decodeProblems turns yaml.v3's errors (which already carry line numbers)
// into Problems, one per error.
func decodeProblems(err error) Problems {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return Problems{{Message: err.Error()}}
	}
	ps := make(Problems, 0, len(te.Errors))
	for _, e := range te.Errors {
		p := Problem{Message: e}
		if rest, ok := strings.CutPrefix(e, "line "); ok {
			if n, msg, ok := strings.Cut(rest, ": "); ok {
				if line, err := strconv.Atoi(n); err == nil {
					p.Line, p.Message = line, msg
				}
			}
		}
		ps = append(ps, p)
	}
	return ps
}

// lineOf finds the line of the value at a path like `routes[2].odoo.model`
// in the parsed file; 0 when the path is not in the file. It falls back to
// the nearest ancestor that is.
func lineOf(root *yaml.Node, path string) int {
	if root == nil || root.Kind == 0 || path == "" {
		return 0
	}
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := 0
	for _, seg := range splitPath(path) {
		next := child(n, seg)
		if next == nil {
			return line
		}
		n = next
		line = n.Line
	}
	return line
}

func child(n *yaml.Node, seg string) *yaml.Node {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == seg {
				return n.Content[i+1]
			}
		}
	case yaml.SequenceNode:
		if i, err := strconv.Atoi(seg); err == nil && i >= 0 && i < len(n.Content) {
			return n.Content[i]
		}
	}
	return nil
}

// splitPath turns `routes[2].odoo.model` into [routes 2 odoo model].
func splitPath(path string) []string {
	path = strings.ReplaceAll(path, "[", ".")
	path = strings.ReplaceAll(path, "]", "")
	return strings.Split(path, ".")
}
