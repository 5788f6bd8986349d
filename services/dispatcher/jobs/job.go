// Package jobs is the explicit-job side of the dispatcher, queue_job's
// with_delay(): the job body (schemas/job.schema.json), Enqueue, and the
// operator functions behind `hub jobs ls|show|requeue`.
//
// A job is a message on jobs.<service>.<task> in stream JOBS. The
// dispatcher reads each configured service's jobs with its own durable
// consumer, jobs-<service>, so each service's lag shows on its own
// (`nats consumer info JOBS jobs-ocr`).
package jobs

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/schemas"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobstate"
)

// Job is the body of a job message.
type Job struct {
	Payload       json.RawMessage `json:"payload"`                  // the request body sent to the service (any JSON; null when nil)
	IdentityKey   string          `json:"identity_key,omitempty"`   // a second job with this key is not enqueued within the JOBS duplicate window
	ETA           time.Time       `json:"eta,omitzero"`             // not run before this time
	MaxRetries    *int            `json:"max_retries,omitempty"`    // retries after the first attempt; nil: the service's retry.max_attempts
	RetryPattern  map[int]float64 `json:"retry_pattern,omitempty"`  // from try N on, wait this many seconds before the next (queue_job's retry_pattern)
	Description   string          `json:"description,omitempty"`    // shown by `hub jobs ls`
	Path          string          `json:"path,omitempty"`           // overrides the task's path
	Method        string          `json:"method,omitempty"`         // overrides the task's method
	ResultSubject string          `json:"result_subject,omitempty"` // publish the answer here instead of results.<service>.<task>
}

// Parse reads and validates a job body. Any problem is permanent: the
// same body fails the same way every time.
func Parse(data []byte) (Job, error) {
	if err := schemas.Validate("job", data); err != nil {
		return Job{}, events.Permanentf("job body: %w", err)
	}
	j, err := Decode(data)
	if err != nil {
		return Job{}, err
	}
	if err := j.Check(); err != nil {
		return Job{}, err
	}
	return j, nil
}

// Check enforces what a job may make the hub do with its fields, beyond
// their shape: its result_subject stays in stream RESULTS (under
// results.), so a job cannot make the dispatcher publish an Odoo command
// or a GitHub event, and its identity_key (the message's Nats-Msg-Id)
// is at most events.MaxIDLen bytes. Parse and Enqueue check it, and the
// dispatcher again before it calls the service: a job published with
// `nats pub` never went through either. Its error is permanent.
func (j Job) Check() error {
	if j.ResultSubject != "" {
		if err := events.ValidateResultSubject(j.ResultSubject); err != nil {
			return events.Permanentf("job result_subject: %w", err)
		}
	}
	if err := events.CheckID("job identity_key", j.IdentityKey); err != nil {
		return events.Permanent(err)
	}
	return nil
}

// Decode reads a job body that was validated before: by Enqueue, or by
// an earlier delivery of the same message. Parse validates it first.
func Decode(data []byte) (Job, error) {
	var j Job
	if err := json.Unmarshal(data, &j); err != nil {
		return Job{}, events.Permanentf("job body: %w", err)
	}
	return j, nil
}

// MaxAttempts is the attempts the job allows in all: max_retries + 1, or
// def when the job does not say.
func (j Job) MaxAttempts(def int) int {
	if j.MaxRetries == nil {
		return def
	}
	return *j.MaxRetries + 1
}

// RetryDelay is the wait after failed attempt n that the retry pattern
// gives: the value of the largest try number ≤ n. ok is false when the
// pattern says nothing for n (no pattern, or n below its first try).
func (j Job) RetryDelay(n int) (d time.Duration, ok bool) {
	best := 0
	for from := range j.RetryPattern {
		if from <= n && from > best {
			best = from
		}
	}
	if best == 0 {
		return 0, false
	}
	return time.Duration(j.RetryPattern[best] * float64(time.Second)), true
}

// ConsumerName is the durable consumer of service's jobs.
func ConsumerName(service string) string { return jobstate.ConsumerName(service) }

// ConsumerFilter is the subject filter of service's jobs.
func ConsumerFilter(service string) string { return "jobs." + events.Token(service) + ".*" }

// Task is the task of a job subject, or an error for a subject that is not one.
func Task(subject string) (string, error) {
	_, task, err := events.ParseJobSubject(subject)
	if err != nil {
		return "", fmt.Errorf("job subject: %w", err)
	}
	return task, nil
}
