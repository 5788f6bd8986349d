package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// peerFloor is scenario 10's raw JetStream floor: the least any ingester
// on this machine can do per delivery, so its rate is the ceiling the
// other peers are measured against.
const peerFloor = "ingest-floor"

// ingestFloorMaxBody bounds what the floor reads of a body (the bench sends 7 KB).
const ingestFloorMaxBody = 1 << 20

// runIngestFloor serves POST /github at listen until ctx is done: net/http's
// server, the body read whole, published synchronously to subject with
// X-GitHub-Delivery as Nats-Msg-Id (as the other peers, so the server
// does the same work), and answered 200 with an empty body after the
// PubAck (502 when the publish fails). No signature, no parsing, no log,
// no metrics.
func runIngestFloor(ctx context.Context, natsURL, listen, subject string) error {
	nc, err := nats.Connect(natsURL)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, ingestFloorMaxBody))
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		m := &nats.Msg{Subject: subject, Header: nats.Header{events.HeaderMsgID: {r.Header.Get("X-GitHub-Delivery")}}, Data: body}
		if _, err := js.PublishMsg(r.Context(), m); err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusOK)
	})}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
