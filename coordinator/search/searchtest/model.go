// Package searchtest holds a target whose answer is known, for the search's tests and the
// coordinator's.
package searchtest

import (
	"math"
	"math/rand/v2"
)

// Model is a closed system of N users with think time Z in front of a server that completes
// at most Xmax requests per second with service time S: the mean response time follows the
// operational-law asymptotes (S below the knee, N/Xmax - Z above it) with a smooth bend.
type Model struct {
	Xmax, Z, S float64
	Noise      float64    // relative standard deviation of each measurement
	Rng        *rand.Rand // draws the noise (needed when Noise > 0)
}

// Latency is the mean response time of n users, in seconds.
func (m *Model) Latency(n int) float64 {
	d := float64(n)/m.Xmax - m.Z - m.S
	const bend = 0.02
	r := m.S + (d+math.Sqrt(d*d+bend*bend))/2
	if m.Noise > 0 {
		r *= 1 + m.Noise*m.Rng.NormFloat64()
	}
	return r
}

// Truth solves Latency(N) = t without noise.
func (m *Model) Truth(t float64) float64 {
	quiet := *m
	quiet.Noise = 0
	lo, hi := 0.0, 1e7
	for hi-lo > 0.01 {
		mid := (lo + hi) / 2
		if quiet.Latency(int(mid)) < t {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

// Throughput is n users' requests per second.
func (m *Model) Throughput(n int) float64 {
	return float64(n) / (m.Latency(n) + m.Z)
}
