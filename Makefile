# Pulse Hub. `make run` runs the hub on its embedded JetStream; `make test`
# runs every workspace module's tests (a plain `go test ./...` at a go.work
# root matches no module).
MODULES = $(shell go list -f '{{.Dir}}/...' -m)

.PHONY: run test bench build vet fmt tidy

run:
	go run ./services/hub run

test:
	go test -race -timeout 20m $(MODULES)

bench:
	go run ./bench

build:
	mkdir -p bin
	sh deploy/build.sh bin

vet:
	go vet $(MODULES)

fmt:
	gofmt -w $(shell go list -f '{{.Dir}}' -m)

# Each module's go.mod names the workspace modules it uses (require +
# replace), so every module also builds on its own (GOWORK=off) and
# `go mod tidy` works in it.
tidy:
	for d in $(shell go list -f '{{.Dir}}' -m); do (cd $$d && GOWORK=off go mod tidy) || exit 1; done
