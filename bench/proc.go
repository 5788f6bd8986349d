package main

// What the bench reads of processes, from /proc: CPU time, resident and
// proportional memory. One place for every scenario.

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is USER_HZ, the unit of /proc/<pid>/stat's times (100 on Linux).
const clockTick = 100

func ticksToDuration(ticks uint64) time.Duration {
	return time.Duration(ticks) * time.Second / clockTick
}

// cpuTime is a process's user + system CPU time so far, its reaped
// children's included, from /proc.
func cpuTime(pid int) time.Duration {
	_, ticks, _ := procStat(pid)
	return ticksToDuration(ticks)
}

// procStat reads a process's parent and its CPU ticks, its reaped
// children's included.
func procStat(pid int) (ppid int, ticks uint64, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, false
	}
	// The command name is in parentheses and may hold spaces: fields start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return 0, 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	for _, k := range []int{11, 12, 13, 14} { // utime stime cutime cstime (fields 14-17)
		v, _ := strconv.ParseUint(f[k], 10, 64)
		ticks += v
	}
	return ppid, ticks, true
}

// procPSS is a process's proportional set size (shared pages divided
// among their users), so summing a PostgreSQL's processes counts its
// shared buffers once.
func procPSS(pid int) uint64 { return procKB(pid, "smaps_rollup", "Pss:") }

// procKB reads the line of /proc/<pid>/<file> that starts with key, a size
// in kB, in bytes; 0 when there is none.
func procKB(pid int, file, key string) uint64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, file))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, key); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				kb, _ := strconv.ParseUint(f[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}

// rss is a process's resident set size (VmRSS), 0 where there is none.
func rss(pid int) uint64 { return procKB(pid, "status", "VmRSS:") }

// peakRSS is a process's peak resident set size (VmHWM).
func peakRSS(pid int) uint64 { return procKB(pid, "status", "VmHWM:") }
