// Module schemas: the JSON Schemas of every Pulse Hub message, embedded,
// and the Go package that validates documents against them.
module github.com/insightpulse/pulsehub/schemas

go 1.26

// santhosh-tekuri/jsonschema/v6 validates: pure Go, maintained, passes the
// official JSON-Schema-Test-Suite for draft 2020-12 (if/then, $ref between
// files, patternProperties), can assert formats such as date-time and
// uri-reference, and reports every failure with its instance location and
// keyword, which our error messages are built from. golang.org/x/text renders
// its messages.
require (
	github.com/santhosh-tekuri/jsonschema/v6 v6.0.3
	golang.org/x/text v0.14.0
)
