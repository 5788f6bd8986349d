package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	// The Benthos peer of scenario 10 uses Benthos's core components only
	// (http_server is in io, the pipeline in pure); the JetStream output
	// is the one below. The redpanda-data/connect module, which has a
	// JetStream output, is not used: its licence is not open source.
	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	"github.com/redpanda-data/benthos/v4/public/service"
)

// benthosOutput is the name of the JetStream output the Benthos peer
// registers.
const benthosOutput = "pulsehub_jetstream"

// benthosConfig is the Benthos peer: http_server on POST /github at addr,
// every request one message, published synchronously to JetStream with
// its X-GitHub-Delivery as Nats-Msg-Id (the hub's de-duplication, so the
// server does the same work for both peers). http_server answers a
// request only once its message is acknowledged by the output, i.e. after
// the PubAck (200, empty body); a failed publish is answered 502. No
// signature is checked and nothing is parsed. Metrics, logger and pipeline
// are Benthos's defaults; its own HTTP server (/metrics, /ready) is off.
func benthosConfig(natsURL, addr, subject string, inFlight int) string {
	return fmt.Sprintf(`
http:
  enabled: false
input:
  http_server:
    address: %q
    path: /github
    allowed_verbs: [POST]
    timeout: 10s
output:
  %s:
    url: %q
    subject: %q
    msg_id_meta: X-Github-Delivery
    max_in_flight: %d
`, addr, benthosOutput, natsURL, subject, inFlight)
}

// newBenthosEnv is Benthos's environment with the JetStream output registered.
func newBenthosEnv() (*service.Environment, error) {
	env := service.NewEnvironment()
	spec := service.NewConfigSpec().
		Summary("Publishes each message to JetStream and waits for the PubAck (a synchronous publish).").
		Field(service.NewStringField("url")).
		Field(service.NewStringField("subject")).
		Field(service.NewStringField("msg_id_meta").Default("")).
		Field(service.NewIntField("max_in_flight").Default(64))
	err := env.RegisterOutput(benthosOutput, spec, func(conf *service.ParsedConfig, _ *service.Resources) (service.Output, int, error) {
		o := &jetStreamOutput{}
		var err error
		if o.url, err = conf.FieldString("url"); err != nil {
			return nil, 0, err
		}
		if o.subject, err = conf.FieldString("subject"); err != nil {
			return nil, 0, err
		}
		if o.msgIDMeta, err = conf.FieldString("msg_id_meta"); err != nil {
			return nil, 0, err
		}
		n, err := conf.FieldInt("max_in_flight")
		if err != nil {
			return nil, 0, err
		}
		return o, n, nil
	})
	return env, err
}

// jetStreamOutput publishes with nats.go's jetstream package, one
// synchronous PublishMsg per message.
type jetStreamOutput struct {
	url, subject, msgIDMeta string
	nc                      *nats.Conn
	js                      jetstream.JetStream
}

func (o *jetStreamOutput) Connect(context.Context) error {
	nc, err := nats.Connect(o.url, nats.Name("benthos-peer"), nats.MaxReconnects(-1))
	if err != nil {
		return err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return err
	}
	o.nc, o.js = nc, js
	return nil
}

func (o *jetStreamOutput) Write(ctx context.Context, m *service.Message) error {
	body, err := m.AsBytes()
	if err != nil {
		return err
	}
	msg := &nats.Msg{Subject: o.subject, Data: body, Header: nats.Header{}}
	if o.msgIDMeta != "" {
		if id, ok := m.MetaGet(o.msgIDMeta); ok && id != "" {
			msg.Header.Set(jetstream.MsgIDHeader, id)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err = o.js.PublishMsg(ctx, msg)
	return err
}

func (o *jetStreamOutput) Close(context.Context) error {
	if o.nc != nil {
		o.nc.Close()
	}
	return nil
}

// runBenthos runs the Benthos peer until ctx is done.
func runBenthos(ctx context.Context, natsURL, addr, subject string, inFlight int) error {
	env, err := newBenthosEnv()
	if err != nil {
		return err
	}
	b := env.NewStreamBuilder()
	if err := b.SetYAML(benthosConfig(natsURL, addr, subject, inFlight)); err != nil {
		return err
	}
	s, err := b.Build()
	if err != nil {
		return err
	}
	if err := s.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
