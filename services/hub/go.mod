module github.com/insightpulse/pulsehub/services/hub

go 1.26
