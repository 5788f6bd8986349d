// Package intake is what the ingester's webhook endpoints share, written
// once: the HTTP wrapper that allows only POST, logs every request as one
// JSON line with its correlation id and counts it by source, status and
// outcome; the byte budget that bounds the request bodies held in memory
// at once across endpoints; reading a body under a size limit, into a
// buffer held in the budget as the bytes arrive and under a minimum rate;
// and the publisher that stores an event in JetStream within a timeout and
// turns the PubAck (or the failure) into the webhook's answer.
//
// The promise every endpoint keeps through it: a 2xx answer is sent only
// after JetStream acknowledged the publish. NATS unreachable, or no PubAck
// within the timeout, is 503; no room for the body in the budget within
// BudgetWait is 503 (nothing stored); a body over the limit is 413; a body
// slower than the rate floor is 408. What a client announces (its
// Content-Length) never reserves anything: a request holds what it has
// sent, so strangers cannot fill the budget with promises.
package intake
