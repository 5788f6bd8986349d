module github.com/insightpulse/pulsehub/services/ingester

go 1.26.0

// go-github v60 (Apps.ListHookDeliveries, Apps.RedeliverHookDelivery) and
// ghinstallation/v2 (the GitHub App JWT transport) drive the redelivery
// reconciler; golang-jwt/jwt/v4 (ghinstallation's own) checks the App key
// at config time and the JWT in the test fake of GitHub's API.

require (
	github.com/bradleyfalzon/ghinstallation/v2 v2.19.0
	github.com/golang-jwt/jwt/v4 v4.5.2
	github.com/google/go-github/v60 v60.0.0
	github.com/nats-io/nats.go v1.55.0
	github.com/prometheus/client_golang v1.25.0
)

require (
	github.com/google/go-github/v88 v88.0.0 // indirect
	github.com/google/go-querystring v1.2.0 // indirect
	github.com/klauspost/compress v1.20.1 // indirect
	github.com/nats-io/nkeys v0.4.16 // indirect
	github.com/nats-io/nuid v1.0.1 // indirect
	github.com/tidwall/gjson v1.20.1 // indirect
	github.com/tidwall/match v1.1.1 // indirect
	github.com/tidwall/pretty v1.2.0 // indirect
	golang.org/x/crypto v0.57.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
)
