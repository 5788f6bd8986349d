#!/bin/sh
# Builds Pulse Hub's binaries, static and stripped, into OUTDIR (default
# ./bin): the five services by default, or the packages named after OUTDIR
# (each binary named after its package's directory). The Dockerfile,
# `make build` and the deploy test all run this one script, so the
# containers ship what CI built and tested.
#
#   sh deploy/build.sh [OUTDIR [PACKAGE...]]
set -eu
out="${1:-bin}"
[ "$#" -gt 0 ] && shift
[ "$#" -gt 0 ] || set -- ./services/hub ./services/ingester ./services/odoowriter ./services/dispatcher ./services/healthmon
mkdir -p "$out"
for pkg in "$@"; do
  CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$out/$(basename "$pkg")" "$pkg"
done
