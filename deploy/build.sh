#!/bin/sh
# Builds Pulse Hub's one binary, hub, static and stripped, into OUTDIR
# (default ./bin), with its version and commit stamped in (`hub version`
# prints both, every service's GET /health answers the version): $VERSION,
# else `git describe`, else "dev"; $COMMIT, else `git rev-parse HEAD`, else
# "unknown". (The Docker build context has no .git: the Dockerfile takes
# both as build arguments.) Every service runs from it (`hub run --only
# ...`). Packages named after OUTDIR are built instead (each binary named
# after its package's directory): the compose playground's set-up.
# The Dockerfile, `make build` and the deploy test all run this one script,
# so the containers ship what CI built and tested.
#
#   [VERSION=1.2.3] [COMMIT=<sha>] sh deploy/build.sh [OUTDIR [PACKAGE...]]
set -eu
out="${1:-bin}"
[ "$#" -gt 0 ] && shift
[ "$#" -gt 0 ] || set -- ./services/hub
version="${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}"
commit="${COMMIT:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}"
pkg=github.com/insightpulse/pulsehub/events/service
mkdir -p "$out"
for p in "$@"; do
  CGO_ENABLED=0 go build -trimpath \
    -ldflags="-s -w -X $pkg.Version=$version -X $pkg.Commit=$commit" \
    -o "$out/$(basename "$p")" "$p"
done
