package stream

import (
	"fmt"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// A retry whose earlier copy is still being stored (409, 10158: seen on a
// loaded cluster after an attempt timed out) asks again for a
// de-duplicated message, and gives up for one without a Msg-Id.
func TestAPublishWhoseCopyIsStillBeingStoredIsAskedAgain(t *testing.T) {
	inProcess := fmt.Errorf("publish: %w", &jetstream.APIError{Code: 409, ErrorCode: 10158, Description: "duplicate message id is in process"})
	if !retryPublish(inProcess, true) {
		t.Error("a de-duplicated message whose copy is in process is not retried")
	}
	if retryPublish(inProcess, false) {
		t.Error("a message without a Msg-Id is retried on a duplicate conflict")
	}
	other := &jetstream.APIError{Code: 400, ErrorCode: 10060, Description: "expected stream does not match"}
	if retryPublish(other, true) {
		t.Error("a refusal is retried")
	}
}
