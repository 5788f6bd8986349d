package probe

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"
)

// MaxDeliveriesSubject is where JetStream announces a message that reached
// its consumer's MaxDeliver and will not be delivered again.
const MaxDeliveriesSubject = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.>"

// Advisories counts MAX_DELIVERIES advisories per stream and consumer. The
// hub's own route consumers deliver without limit (the consume loop
// dead-letters), so an advisory points at a consumer made by hand or a
// misconfigured one: messages it silently gave up on.
type Advisories struct {
	// OnAdvisory is called for each advisory (the monitor counts it in
	// its metrics); optional.
	OnAdvisory func(stream, consumer string)

	mu     sync.Mutex
	counts map[[2]string]uint64
}

// Start subscribes on nc; stop unsubscribes.
func (a *Advisories) Start(nc *nats.Conn) (stop func(), err error) {
	sub, err := nc.Subscribe(MaxDeliveriesSubject, a.handle)
	if err != nil {
		return nil, fmt.Errorf("subscribe %s: %w", MaxDeliveriesSubject, err)
	}
	return func() { _ = sub.Unsubscribe() }, nil
}

func (a *Advisories) handle(m *nats.Msg) {
	stream, consumer := parseAdvisory(m.Subject, m.Data)
	if stream == "" || consumer == "" {
		return
	}
	a.mu.Lock()
	if a.counts == nil {
		a.counts = map[[2]string]uint64{}
	}
	a.counts[[2]string{stream, consumer}]++
	a.mu.Unlock()
	if a.OnAdvisory != nil {
		a.OnAdvisory(stream, consumer)
	}
}

// parseAdvisory reads the stream and consumer from the advisory's body,
// or from its subject ($JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.<stream>.<consumer>).
func parseAdvisory(subject string, data []byte) (stream, consumer string) {
	var body struct {
		Stream   string `json:"stream"`
		Consumer string `json:"consumer"`
	}
	if json.Unmarshal(data, &body) == nil && body.Stream != "" && body.Consumer != "" {
		return body.Stream, body.Consumer
	}
	rest, ok := strings.CutPrefix(subject, strings.TrimSuffix(MaxDeliveriesSubject, ">"))
	if !ok {
		return "", ""
	}
	stream, consumer, _ = strings.Cut(rest, ".")
	return stream, consumer
}

// Count is how many advisories the consumer had since healthmon started.
func (a *Advisories) Count(stream, consumer string) uint64 {
	if a == nil {
		return 0
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.counts[[2]string{stream, consumer}]
}
