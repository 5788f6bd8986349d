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
	if len(args) != 1 {
		fmt.Fprintln(stderr, "usage: hub healthcheck URL   (e.g. http://127.0.0.1:8080/health)")
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, args[0], nil)
	if err != nil {
		fmt.Fprintf(stderr, "hub healthcheck: %v\n", err)
		return 2
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
