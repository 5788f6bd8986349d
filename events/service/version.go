package service

// Version and Commit identify the build of the running binary. deploy/build.sh
// stamps them with -ldflags "-X github.com/insightpulse/pulsehub/events/service.Version=...
// -X .../service.Commit=..." (from $VERSION and $COMMIT, else git); a plain
// `go build` or `go run` leaves "dev" and "". `hub version` prints both and
// every service's GET /health answers Version, so a rollout can be followed
// replica by replica.
var (
	Version = "dev"
	Commit  = ""
)
