// Package exposure refuses a server that anyone on the network could drive: one that
// listens beyond loopback without a token.
package exposure

import (
	"fmt"
	"net"
)

// Check returns an error when listen (host:port) reaches beyond loopback and no token is
// set, unless insecure says that is intended. tokenEnv names the token's environment
// variable, example a good --listen, for the message.
func Check(listen, token string, insecure bool, tokenEnv, example string) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("--listen %q: must be host:port (for example %s): %v", listen, example, err)
	}
	if token != "" || insecure || Loopback(host) {
		return nil
	}
	return fmt.Errorf("--listen %s reaches beyond loopback and no token is set: anyone who can connect could drive "+
		"load from this host; set --token or $%s, or pass --insecure-no-token on a private network", listen, tokenEnv)
}

// Loopback says whether host is a loopback name or address.
func Loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
