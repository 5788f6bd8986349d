package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

const hubPackage = "github.com/insightpulse/pulsehub/services/hub"

// TestBinaryHasNoTestCode keeps test helpers and benchmark scenarios out of
// the shipping hub binary (issue 12): they live in test files, in the
// services' test-helper packages, and in the separate bench module.
func TestBinaryHasNoTestCode(t *testing.T) {
	goTool := findGo()
	if goTool == "" {
		t.Skip("no go tool in GOROOT or on PATH")
	}
	var stderr bytes.Buffer
	cmd := exec.Command(goTool, "list", "-deps", hubPackage)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v\n%s", hubPackage, err, stderr.String())
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, hubPackage+"/cli") {
		t.Fatalf("go list -deps %s does not list the hub's own cli package; got:\n%s", hubPackage, out)
	}
	for _, p := range deps {
		if why := testOnly(p); why != "" {
			t.Errorf("the hub binary imports %s (%s)", p, why)
		}
	}
}

func TestTestOnlyRecognizesHelpersAndBenchPackages(t *testing.T) {
	for path, want := range map[string]bool{
		"github.com/insightpulse/pulsehub/odoo/odootest":                              true,
		"github.com/insightpulse/pulsehub/events/natstest":                            true,
		"github.com/insightpulse/pulsehub/services/ingester/githubtest":               true,
		"github.com/insightpulse/pulsehub/services/healthmon/healthtest":              true,
		"github.com/insightpulse/pulsehub/services/ingester/ingesttest":               true,
		"github.com/insightpulse/pulsehub/services/ingester/ingestbench":              true,
		"github.com/insightpulse/pulsehub/services/dispatcher/dispatch/dispatchbench": true,
		"github.com/insightpulse/pulsehub/bench":                                      true,
		"github.com/insightpulse/pulsehub/services/hub/bench/internal":                true,
		"github.com/insightpulse/pulsehub/services/hub/cli":                           false,
		"github.com/insightpulse/pulsehub/odoo":                                       false,
		"internal/synctest":                                                           false,
		"testing":                                                                     false,
	} {
		if got := testOnly(path) != ""; got != want {
			t.Errorf("testOnly(%q) = %v, want %v", path, got, want)
		}
	}
}

// testOnly says why an import path is test or benchmark code ("" if it is not).
func testOnly(path string) string {
	for _, helper := range []string{"odootest", "natstest", "githubtest", "healthtest", "ingesttest"} {
		if strings.Contains(path, helper) {
			return "a test helper"
		}
	}
	for _, elem := range strings.Split(path, "/") {
		if strings.HasSuffix(elem, "bench") {
			return "a benchmark package"
		}
	}
	return ""
}

// findGo is the go command of the toolchain running the test, else the one
// on PATH, else "".
func findGo() string {
	if root := runtime.GOROOT(); root != "" {
		if p, err := exec.LookPath(filepath.Join(root, "bin", "go")); err == nil {
			return p
		}
	}
	p, _ := exec.LookPath("go")
	return p
}
