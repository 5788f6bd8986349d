package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/consume"
	"github.com/insightpulse/pulsehub/events/natsauth"
	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/route"
	"github.com/insightpulse/pulsehub/events/stream"
	"gopkg.in/yaml.v3"
)

// runbookCommands returns every `nats ...` command in docs/operations.md's
// sh blocks, split into arguments like a shell would (single quotes).
func runbookCommands(t *testing.T) [][]string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]string
	inBlock := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "```"):
			inBlock = line == "```sh"
		case inBlock && strings.HasPrefix(line, "nats "):
			out = append(out, shellSplit(line))
		}
	}
	if len(out) < 10 {
		t.Fatalf("found only %d nats commands in the runbook", len(out))
	}
	return out
}

func shellSplit(s string) []string {
	var out []string
	var cur strings.Builder
	inQuote, has := false, false
	for _, r := range s {
		switch {
		case r == '\'':
			inQuote, has = !inQuote, true
		case r == ' ' && !inQuote:
			if has {
				out = append(out, cur.String())
				cur.Reset()
				has = false
			}
		default:
			cur.WriteRune(r)
			has = true
		}
	}
	if has {
		out = append(out, cur.String())
	}
	return out
}

// exampleRoutes reads the routes of deploy/hub.example.yaml.
func exampleRoutes(t *testing.T) []route.Spec {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "hub.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Routes []route.Spec `yaml:"routes"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if ps := route.ValidateAll(f.Routes, "routes"); len(ps) > 0 {
		t.Fatalf("example routes: %v", ps)
	}
	return f.Routes
}

// knownConsumers are the consumer names the hub creates for the example
// config: its routes, their replay consumers, and the built-in ones.
func knownConsumers(routes []route.Spec) map[string]string {
	out := map[string]string{"odoo-cmd": events.StreamOdooCmd, "jobs-ocr": events.StreamJobs}
	for _, r := range routes {
		out[r.Name] = r.From.Stream
		out[stream.ReplayName(r.Name)] = r.From.Stream
	}
	return out
}

func TestRunbookNamesExist(t *testing.T) {
	consumers := knownConsumers(exampleRoutes(t))
	buckets := []string{events.BucketHealth, events.BucketJobs, events.BucketResults, events.BucketCheckpoints, events.BucketGitHubRedeliveries, events.BucketLeases}
	for _, cmd := range runbookCommands(t) {
		args := positional(cmd[1:])
		switch {
		case len(args) >= 2 && args[0] == "stream":
			if len(args) >= 3 && !slices.Contains(stream.Names(), args[2]) {
				t.Errorf("%v: no stream %s", cmd, args[2])
			}
		case len(args) >= 3 && args[0] == "consumer":
			if !slices.Contains(stream.Names(), args[2]) {
				t.Errorf("%v: no stream %s", cmd, args[2])
			}
			if len(args) >= 4 && consumers[args[3]] != args[2] {
				t.Errorf("%v: the hub creates no consumer %s on %s", cmd, args[3], args[2])
			}
		case len(args) >= 3 && args[0] == "kv":
			if !slices.Contains(buckets, args[2]) {
				t.Errorf("%v: no bucket %s", cmd, args[2])
			}
		case len(args) >= 2 && (args[0] == "pub" || args[0] == "sub"):
			if streamFor(args[1]) == "" {
				t.Errorf("%v: subject %s is in none of the hub's streams", cmd, args[1])
			}
		}
		for i, a := range cmd {
			if a == "--subject" || a == "--filter" {
				if streamFor(cmd[i+1]) == "" {
					t.Errorf("%v: subject %s is in none of the hub's streams", cmd, cmd[i+1])
				}
			}
		}
	}
}

// TestRunbookNamesEveryDeadLetterHeader keeps the runbook's dead-letter
// section in step with what the consume loop writes: every header it adds
// and every kind is named, and every Pulsehub-* header the page names is
// one the hub uses.
func TestRunbookNamesEveryDeadLetterHeader(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	kinds := []string{events.KindPermanent.String(), events.KindTransient.String(), consume.KindExhausted}
	for _, name := range append(append(slices.Clone(consume.DeadLetterHeaders), events.HeaderRequeuedFor), kinds...) {
		if !strings.Contains(doc, "`"+name+"`") {
			t.Errorf("docs/operations.md does not name `%s`", name)
		}
	}
	known := append(slices.Clone(consume.DeadLetterHeaders), events.HeaderRequeuedFrom, events.HeaderRequeuedFor)
	for _, name := range regexp.MustCompile(`Pulsehub-[A-Za-z-]*[A-Za-z]`).FindAllString(doc, -1) {
		if !slices.Contains(known, name) {
			t.Errorf("docs/operations.md names header %s, which the hub does not write", name)
		}
	}
}

// positional drops flags and their values.
func positional(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if strings.HasPrefix(a, "-") {
			if !strings.Contains(a, "=") && i+1 < len(args) && takesValue(a) {
				i++
			}
			continue
		}
		out = append(out, a)
	}
	return out
}

func takesValue(flag string) bool {
	switch flag {
	case "--force", "--pull", "--defaults", "-f":
		return false
	}
	return true
}

func streamFor(subject string) string {
	for _, spec := range stream.Specs(stream.DefaultConfig()) {
		for _, s := range spec.Subjects {
			prefix := strings.TrimSuffix(s, ">")
			if strings.HasPrefix(subject, prefix) && subject != strings.TrimSuffix(prefix, ".") {
				return spec.Name
			}
		}
	}
	return ""
}

// TestRunbookCommandsRunAgainstARealServer runs every runbook command with
// the stock nats CLI (CI installs it; locally it is skipped without it), as
// the operator user on a server that requires the hub's users.
func TestRunbookCommandsRunAgainstARealServer(t *testing.T) {
	bin := natsCLI()
	if bin == "" {
		t.Skip("the nats CLI is not installed (go install github.com/nats-io/natscli/nats@v0.5.0)")
	}
	hub, users := natstest.RunAuthHub(t)
	nkey := filepath.Join(t.TempDir(), "operator.nk")
	if err := os.WriteFile(nkey, []byte(users.Seed(natsauth.Operator)), 0o600); err != nil {
		t.Fatal(err)
	}
	js := hub.JS
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, r := range exampleRoutes(t) {
		if _, err := stream.EnsureConsumer(ctx, js, r.ConsumerOptions()); err != nil {
			t.Fatal(err)
		}
	}
	kv, err := stream.EnsureBucket(ctx, js, stream.Bucket(stream.DefaultConfig(), events.BucketHealth, "", 32, 0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "nats", []byte(`{"status":"ok"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.EnsureBucket(ctx, js, stream.Bucket(stream.DefaultConfig(), events.BucketJobs, "", 5, 0)); err != nil {
		t.Fatal(err)
	}
	leases, err := stream.EnsureBucket(ctx, js, stream.Bucket(stream.DefaultConfig(), events.BucketLeases, "", 1, 0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leases.Put(ctx, "healthmon.publisher", []byte(`{"holder":"test"}`)); err != nil {
		t.Fatal(err)
	}
	ev := events.New(ctx, "test", "com.github.issues.opened", []byte(`{"action":"opened"}`))
	if _, err := js.PublishMsg(ctx, ev.Msg("github.issues.opened")); err != nil {
		t.Fatal(err)
	}
	dl := ev.Msg(events.DLQSubject("github-issues-to-tasks", "github.issues.opened"))
	dl.Header.Set(events.HeaderMsgID, "dl-1")
	if _, err := js.PublishMsg(ctx, dl); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range runbookCommands(t) {
		if cmd[1] == "sub" {
			continue // waits for messages forever; its subject is checked by TestRunbookNamesExist
		}
		args := append([]string{bin, "--server", hub.URL, "--nkey", nkey}, cmd[1:]...)
		if cmd[2] == "view" {
			// nats stream view pages interactively and insists on a terminal:
			// give it one with util-linux's script(1).
			script, err := exec.LookPath("script")
			if err != nil {
				t.Logf("skipping %v: no script(1) to give it a terminal", cmd)
				continue
			}
			args = []string{script, "-qec", shellJoin(args), "/dev/null"}
		}
		c := exec.CommandContext(ctx, args[0], args[1:]...)
		c.Stdin = strings.NewReader("n\n")
		c.Env = append(os.Environ(), "NATS_CONTEXT=", "HOME="+t.TempDir())
		if out, err := c.CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", strings.Join(cmd, " "), err, out)
		}
	}
}

func shellJoin(args []string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(quoted, " ")
}
