module github.com/insightpulse/pulsehub/services/ingester

go 1.26
