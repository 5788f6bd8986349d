module github.com/insightpulse/pulsehub/services/dispatcher

go 1.26
