package console

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/events/config"
	"github.com/insightpulse/pulsehub/events/stream"
)

// Audit is the body of an audit event (schemas/audit.schema.json),
// published on audit.console.<action> in stream HEALTH.
type Audit struct {
	Operator      string    `json:"operator"`
	Action        string    `json:"action"` // job-requeue, job-cancel, dlq-requeue, dlq-requeue-route, dlq-purge-route, replay, login, logout
	Target        string    `json:"target"` // the job id, dead letter sequence or route
	Outcome       string    `json:"outcome"`
	Detail        string    `json:"detail,omitempty"` // what it did, or why it failed
	CorrelationID string    `json:"correlation_id"`
	Client        string    `json:"client"` // the client's address
	At            time.Time `json:"at"`
}

// Audit event envelope.
const (
	AuditSource = "urn:pulsehub:console"
	AuditType   = "dev.pulsehub.audit"
)

// maxDetail bounds an audit detail (an error may quote a payload).
const maxDetail = 1024

// audit writes one log line and publishes one event for an action. A
// failed publish is logged (the line is the record that stays).
func (c *Console) audit(ctx context.Context, a Audit) {
	a.At = c.now().UTC()
	a.Detail = clip(config.Scrub(a.Detail), maxDetail)
	outcome := c.log.Info
	if a.Outcome != "ok" {
		outcome = c.log.Warn
	}
	outcome("console action", "operator", a.Operator, "action", a.Action, "target", a.Target, "outcome", a.Outcome,
		"detail", a.Detail, "correlation_id", a.CorrelationID, "client", a.Client)
	body, _ := json.Marshal(a)
	e := events.New(events.WithCorrelationID(ctx, a.CorrelationID), AuditSource, AuditType, body)
	e.Subject = a.Target
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := stream.Publish(pctx, c.js, e.Msg(AuditSubject(a.Action))); err != nil {
		c.log.Warn("audit event not published", "action", a.Action, "correlation_id", a.CorrelationID, "error", err.Error())
	}
}

// AuditSubject is audit.console.<action>.
func AuditSubject(action string) string { return "audit.console." + events.Token(action) }

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
