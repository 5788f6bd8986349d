#!/bin/sh
# Builds every Pulse Hub binary, static and stripped, into OUTDIR (default
# ./bin). The Dockerfile, `make build` and the deploy test all run this one
# script, so the container ships what CI built and tested.
set -eu
out="${1:-bin}"
mkdir -p "$out"
for s in hub ingester odoowriter dispatcher healthmon; do
  CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$out/$s" "./services/$s"
done
