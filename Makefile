# Pulse Hub. `make run` runs the hub on its embedded JetStream; `make test`
# runs every workspace module's tests (a plain `go test ./...` at a go.work
# root matches no module).
MODULES = $(shell go list -f '{{.Dir}}/...' -m)

.PHONY: run test bench build vet fmt

run:
	go run ./services/hub run

test:
	go test -race -timeout 20m $(MODULES)

bench:
	go run ./services/hub bench

build:
	mkdir -p bin
	sh deploy/build.sh bin

vet:
	go vet $(MODULES)

fmt:
	gofmt -w $(shell go list -f '{{.Dir}}' -m)
