module github.com/insightpulse/pulsehub/services/odoowriter

go 1.26
