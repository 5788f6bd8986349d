module github.com/insightpulse/pulsehub/odoo

go 1.26.0

require (
	github.com/insightpulse/pulsehub/events v0.0.0-00010101000000-000000000000
	github.com/kolo/xmlrpc v0.0.0-20220921171641-a4b6fa1dd06b
)

require (
	github.com/google/uuid v1.6.0 // indirect
	github.com/klauspost/compress v1.20.3 // indirect
	github.com/nats-io/nats.go v1.55.0 // indirect
	github.com/nats-io/nkeys v0.4.16 // indirect
	github.com/nats-io/nuid v1.0.1 // indirect
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)

replace github.com/insightpulse/pulsehub/events => ../events
