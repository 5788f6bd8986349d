module github.com/insightpulse/pulsehub/services/dispatcher

go 1.26.0

// sony/gobreaker/v2: the per-service circuit breaker. It trips on N
// consecutive failures or a failure ratio over a rolling window
// (BucketPeriod), lets one call through when half-open after a cool-down,
// excludes our own cancellations (IsExcluded), and has a two-step API so
// admission and outcome are reported apart. Maintained, no dependencies.
require github.com/sony/gobreaker/v2 v2.4.0

require (
	github.com/klauspost/compress v1.20.1 // indirect
	github.com/nats-io/nats.go v1.55.0 // indirect
	github.com/nats-io/nkeys v0.4.16 // indirect
	github.com/nats-io/nuid v1.0.1 // indirect
	github.com/prometheus/client_golang v1.25.0 // indirect
	golang.org/x/crypto v0.57.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
)
