module github.com/insightpulse/pulsehub/e2e

go 1.26
