package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// healthcheckCmd is the containers' HEALTHCHECK: GET the URL, exit 0 on
// 200 and 1 otherwise. Distroless images have no curl; every image has
// /hub.
func healthcheckCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f := newFlags("hub healthcheck", "hub healthcheck URL   (e.g. http://127.0.0.1:8080/health)", stdout, stderr)
	pos, code, ok := f.parse(args)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return f.fail("want one URL")
	}
	args = pos
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, args[0], nil)
	if err != nil {
		return f.fail("%v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "hub healthcheck: %v\n", err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "hub healthcheck: %s answered %d: %s\n", args[0], resp.StatusCode, body)
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok\n", args[0])
	return 0
}
