package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	tests := []struct {
		name        string
		args        []string
		stdin       string
		code        int
		out, errOut string
	}{
		{"valid from stdin", []string{"job"}, `{"payload": 1}`, 0, "-: valid job", ""},
		{"valid file", []string{"odoo-cmd", "../../examples/odoo-cmd.upsert.json"}, "", 0, "valid odoo-cmd", ""},
		{"invalid file", []string{"job", "../../testdata/invalid/job.eta-not-date-time.json"}, "", 1, "", "/eta: 'tomorrow' is not valid date-time"},
		{"one bad file fails the run", []string{"job", "-", "../../testdata/invalid/job.missing-payload.json"}, `{"payload": 1}`, 1, "-: valid job", "missing property 'payload'"},
		{"missing file", []string{"job", "no-such.json"}, "", 1, "", "no-such.json"},
		{"unknown schema", []string{"nope"}, `{}`, 1, "", "unknown schema"},
		{"list", []string{"-list"}, "", 0, "job-state\n", ""},
		{"print", []string{"-print", "job"}, "", 0, `"$id": "https://pulsehub.insightpulse.dev/schemas/job.schema.json"`, ""},
		{"no schema named", nil, "", 2, "", "usage:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(tt.args, strings.NewReader(tt.stdin), &out, &errOut)
			if code != tt.code || !strings.Contains(out.String(), tt.out) || !strings.Contains(errOut.String(), tt.errOut) {
				t.Errorf("run(%q) = %d\nstdout: %s\nstderr: %s\nwant %d, stdout with %q, stderr with %q",
					tt.args, code, &out, &errOut, tt.code, tt.out, tt.errOut)
			}
		})
	}
}
