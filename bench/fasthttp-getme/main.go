//go:build !windows

// (The benchmarks read getrusage, which Windows lacks; they run where the agents are measured.)

// Command fasthttp-getme measures the CPU that valyala/fasthttp's client spends per request:
// 32 goroutines send GET /api/v4/users/me back to back with a bearer token, as the agent's
// noop users do in bench/agent -mode cpu, and it prints the CPU per request over -d.
// bench/agent.sh runs it beside the agent, to show what fasthttp costs alone and so what the
// agent adds around it (its users, metrics and histograms).
package main

import (
	"flag"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

func cpu() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func main() {
	url := flag.String("url", "http://127.0.0.1:18065/api/v4/users/me", "the request")
	tok := flag.String("token", "", "a session token")
	d := flag.Duration("d", 10*time.Second, "how long to measure, after 1 s of warm-up")
	flag.Parse()
	c := &fasthttp.Client{MaxConnsPerHost: 64}
	var n atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			for {
				select {
				case <-stop:
					return
				default:
				}
				req.SetRequestURI(*url)
				req.Header.Set("Authorization", "Bearer "+*tok)
				if err := c.Do(req, resp); err == nil && resp.StatusCode() == 200 {
					n.Add(1)
				}
			}
		})
	}
	time.Sleep(time.Second)
	c0, n0, t0 := cpu(), n.Load(), time.Now()
	time.Sleep(*d)
	c1, n1, el := cpu(), n.Load(), time.Since(t0)
	close(stop)
	wg.Wait()
	k := float64(n1 - n0)
	fmt.Printf("fasthttp requests=%.0f rate=%.0f/s cpu=%.2fs cpu_per_request=%.1fus\n", k, k/el.Seconds(), (c1 - c0).Seconds(), float64((c1-c0).Microseconds())/k)
}
