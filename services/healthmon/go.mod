module github.com/insightpulse/pulsehub/services/healthmon

go 1.26
