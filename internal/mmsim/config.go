package mmsim

import (
	"net"
	"strings"
	"time"

	"github.com/loadtest/loadtest/internal/config"
	"github.com/loadtest/loadtest/internal/logging"
)

// Defaults for Config. They are the values mmsim uses when a field is left out.
const (
	DefaultListenAddress        = "127.0.0.1:8065"
	DefaultMetricsListenAddress = "127.0.0.1:8067"
	DefaultServerVersion        = "10.8.0"
	DefaultMaxBodyBytes         = 1 << 20  // 1 MiB for JSON bodies
	DefaultMaxFileBytes         = 10 << 20 // 10 MiB for POST /files
	DefaultReplayBufferSize     = 128      // Mattermost's dead-queue size
	DefaultDeadConnectionTTLSec = 300
	DefaultSendQueueSize        = 256
)

// Config configures a Server. Its zero value is not usable; start from DefaultConfig.
type Config struct {
	ListenAddress        string      // REST API and WebSocket, e.g. 127.0.0.1:8065
	MetricsListenAddress string      // Prometheus /metrics, e.g. 127.0.0.1:8067; empty disables it
	ServerVersion        string      // reported in X-Version-Id and the hello event
	MaxBodyBytes         int64       // largest JSON request body accepted
	MaxFileBytes         int64       // largest multipart upload accepted by POST /files
	Admin                AdminConfig // the system administrator created at start-up
	Capacity             CapacityConfig
	WebSocket            WebSocketConfig
	LogSettings          logging.Settings
}

// CapacityConfig is the closed-form capacity model: Workers workers, each request (WebSocket
// traffic excluded) holds one worker for ServiceTimeMs. The server then saturates at
// Workers/ServiceTime requests per second. Workers = 0 means unlimited: no model at all.
type CapacityConfig struct {
	Workers       int     // concurrent requests in service; 0 disables the model
	ServiceTimeMs float64 // time one request holds a worker, in milliseconds
	Distribution  string  // "constant" (every request takes ServiceTimeMs) or "exponential" (mean ServiceTimeMs)
}

// Enabled reports whether the capacity model is on.
func (c CapacityConfig) Enabled() bool { return c.Workers > 0 }

// ServiceTime is ServiceTimeMs as a duration.
func (c CapacityConfig) ServiceTime() time.Duration {
	return time.Duration(c.ServiceTimeMs * float64(time.Millisecond))
}

// MaxRate is the throughput at saturation, W/S, in requests per second. It is +Inf without a
// model.
func (c CapacityConfig) MaxRate() float64 {
	if !c.Enabled() || c.ServiceTimeMs <= 0 {
		return inf
	}
	return float64(c.Workers) / (c.ServiceTimeMs / 1000)
}

// AdminConfig is the system administrator account mmsim creates when it starts, as an
// installed Mattermost has one. The defaults are the seed's sample admin credentials, which
// the load-test agent config uses too. An empty Username creates no admin.
type AdminConfig struct {
	Username string
	Email    string
	Password string
}

// WebSocketConfig tunes the WebSocket hub.
type WebSocketConfig struct {
	ReplayBufferSize     int // events kept per connection for replay on reconnect
	DeadConnectionTTLSec int // how long a closed connection can be resumed
	SendQueueSize        int // events queued per connection before it is dropped as too slow
}

// DefaultConfig returns the configuration mmsim runs with when nothing is set.
func DefaultConfig() Config {
	ls := logging.DefaultSettings()
	return Config{
		ListenAddress:        DefaultListenAddress,
		MetricsListenAddress: DefaultMetricsListenAddress,
		ServerVersion:        DefaultServerVersion,
		MaxBodyBytes:         DefaultMaxBodyBytes,
		MaxFileBytes:         DefaultMaxFileBytes,
		Admin:                AdminConfig{Username: "sysadmin", Email: "sysadmin@sample.mattermost.com", Password: "Sys@dmin-sample1"},
		Capacity:             CapacityConfig{Distribution: "constant"},
		WebSocket: WebSocketConfig{
			ReplayBufferSize:     DefaultReplayBufferSize,
			DeadConnectionTTLSec: DefaultDeadConnectionTTLSec,
			SendQueueSize:        DefaultSendQueueSize,
		},
		LogSettings: ls,
	}
}

// Validate checks every field and reports all that are wrong.
func (c *Config) Validate() error {
	var ck config.Checker
	ck.Check(validAddr(c.ListenAddress), "ListenAddress", c.ListenAddress, "must be host:port")
	ck.Check(c.MetricsListenAddress == "" || validAddr(c.MetricsListenAddress), "MetricsListenAddress", c.MetricsListenAddress, "must be host:port or empty")
	ck.Check(c.ServerVersion != "", "ServerVersion", c.ServerVersion, "must not be empty")
	ck.Check(c.MaxBodyBytes > 0, "MaxBodyBytes", c.MaxBodyBytes, "must be > 0")
	ck.Check(c.MaxFileBytes > 0, "MaxFileBytes", c.MaxFileBytes, "must be > 0")
	if a := c.Admin; a.Username != "" {
		ck.Check(validUsername(strings.ToLower(a.Username)), "Admin.Username", a.Username, "must be 3-64 characters of a-z 0-9 . - _, starting with a letter")
		ck.Check(strings.Contains(a.Email, "@"), "Admin.Email", a.Email, "must be an email address")
		ck.Check(len(a.Password) >= 5 && len(a.Password) <= 72, "Admin.Password", "(hidden)", "must be 5-72 characters")
	}
	ck.Add("Capacity", c.Capacity.Validate())
	ws := c.WebSocket
	ck.Check(ws.ReplayBufferSize >= 0, "WebSocket.ReplayBufferSize", ws.ReplayBufferSize, "must be >= 0")
	ck.Check(ws.DeadConnectionTTLSec >= 0, "WebSocket.DeadConnectionTTLSec", ws.DeadConnectionTTLSec, "must be >= 0")
	ck.Check(ws.SendQueueSize > 0, "WebSocket.SendQueueSize", ws.SendQueueSize, "must be > 0")
	ck.Add("LogSettings", c.LogSettings.Validate())
	return ck.Err()
}

// Validate checks the capacity model.
func (c CapacityConfig) Validate() error {
	var ck config.Checker
	ck.Check(c.Workers >= 0, "Workers", c.Workers, "must be >= 0 (0 disables the model)")
	ck.Check(c.Workers == 0 || c.ServiceTimeMs > 0, "ServiceTimeMs", c.ServiceTimeMs, "must be > 0 when Workers is set")
	ck.Check(c.ServiceTimeMs >= 0, "ServiceTimeMs", c.ServiceTimeMs, "must be >= 0")
	ck.Check(config.OneOf(c.Distribution, "constant", "exponential"), "Distribution", c.Distribution, `must be "constant" or "exponential"`)
	return ck.Err()
}

func validAddr(s string) bool {
	_, port, err := net.SplitHostPort(s)
	return err == nil && port != ""
}
