#!/bin/sh
# Builds Pulse Hub's one binary, hub, static and stripped, into OUTDIR
# (default ./bin), with its version stamped in (`hub version`): $VERSION,
# else `git describe`, else "dev". Every service runs from it (`hub run
# --only ...`). Packages named after OUTDIR are built instead (each binary
# named after its package's directory): the compose playground's set-up.
# The Dockerfile, `make build` and the deploy test all run this one script,
# so the containers ship what CI built and tested.
#
#   [VERSION=1.2.3] sh deploy/build.sh [OUTDIR [PACKAGE...]]
set -eu
out="${1:-bin}"
[ "$#" -gt 0 ] && shift
[ "$#" -gt 0 ] || set -- ./services/hub
version="${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}"
mkdir -p "$out"
for pkg in "$@"; do
  CGO_ENABLED=0 go build -trimpath \
    -ldflags="-s -w -X github.com/insightpulse/pulsehub/services/hub/cli.Version=$version" \
    -o "$out/$(basename "$pkg")" "$pkg"
done
