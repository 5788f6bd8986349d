package cache

import (
	"context"
	"testing"
	"time"

	"github.com/insightpulse/pulsehub/events/natstest"
	"github.com/insightpulse/pulsehub/events/stream"
)

func TestGetPutAndMiss(t *testing.T) {
	srv := natstest.RunServer(t)
	_, js := natstest.Connect(t, srv.ClientURL())
	ctx := context.Background()
	c, err := Open(ctx, js, stream.DefaultConfig(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, hit, err := c.Get(ctx, "k1"); hit || err != nil {
		t.Fatalf("miss: %v %v", hit, err)
	}
	if err := c.Put(ctx, "k1", []byte(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	if v, hit, err := c.Get(ctx, "k1"); !hit || err != nil || string(v) != `{"a":1}` {
		t.Fatalf("hit: %s %v %v", v, hit, err)
	}
	if _, _, err := c.Get(ctx, "bad key"); err == nil {
		t.Fatal("get with an invalid key")
	}
	if err := c.Put(ctx, "bad key", nil); err == nil {
		t.Fatal("put with an invalid key")
	}
	p, err := c.PutAsync(ctx, "k2", []byte(`{"b":2}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if v, hit, err := c.Get(ctx, "k2"); !hit || err != nil || string(v) != `{"b":2}` {
		t.Fatalf("hit after an async put: %s %v %v", v, hit, err)
	}
	for _, key := range []string{"bad key", "a.*", ""} {
		if _, err := c.PutAsync(ctx, key, nil); err == nil {
			t.Fatalf("async put with the invalid key %q", key)
		}
	}
	st, _ := js.Stream(ctx, "KV_results")
	if st.CachedInfo().Config.MaxAge != DefaultTTL {
		t.Fatalf("ttl %s", st.CachedInfo().Config.MaxAge)
	}
	// A new TTL applies to the bucket.
	if _, err := Open(ctx, js, stream.DefaultConfig(), time.Hour); err != nil {
		t.Fatal(err)
	}
	st, _ = js.Stream(ctx, "KV_results")
	if st.CachedInfo().Config.MaxAge != time.Hour {
		t.Fatalf("ttl after change %s", st.CachedInfo().Config.MaxAge)
	}
}
