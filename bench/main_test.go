package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
)

// TestUsage covers the command line without running a scenario.
func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args                 []string
		code                 int
		stdoutHas, stderrHas string
	}{
		{[]string{"-h"}, 0, "go run ./bench [--quick]", ""},
		{[]string{"--help"}, 0, "-million", ""},
		{[]string{"--nope"}, 2, "", "go run ./bench [--quick]"},
		{[]string{"--scale", "10,x"}, 2, "", "want positive numbers"},
		{[]string{"--scale", "0"}, 2, "", "want positive numbers"},
		{[]string{"extra"}, 2, "", "unexpected argument"},
		{[]string{"--only", "11"}, 2, "", "want scenario numbers 1 to 10"},
		{[]string{"--only", "1,x"}, 2, "", "want scenario numbers 1 to 10"},
		{[]string{"--rounds", "-1"}, 2, "", "want a positive number"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), tc.args, &stdout, &stderr)
		if code != tc.code {
			t.Errorf("%q: exit %d, want %d\nstdout: %s\nstderr: %s", tc.args, code, tc.code, stdout.String(), stderr.String())
		}
		if tc.code == 0 && stderr.Len() > 0 {
			t.Errorf("%q: stderr %q, want nothing", tc.args, stderr.String())
		}
		if tc.code != 0 && stdout.Len() > 0 {
			t.Errorf("%q: stdout %q, want nothing", tc.args, stdout.String())
		}
		if !strings.Contains(stdout.String(), tc.stdoutHas) || !strings.Contains(stderr.String(), tc.stderrHas) {
			t.Errorf("%q: stdout %q lacks %q or stderr %q lacks %q", tc.args, stdout.String(), tc.stdoutHas, stderr.String(), tc.stderrHas)
		}
	}
}

// TestMain lets scenario 9 run its peer rounds in children of the test binary.
func TestMain(m *testing.M) {
	runChildIfAsked()
	os.Exit(m.Run())
}
