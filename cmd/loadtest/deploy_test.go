package main

import (
	"context"
	"io"
	"path/filepath"
	"testing"

	"github.com/loadtest/loadtest/deploy"
)

// TestDeployCommands parses every loadtest command line of the deployment files (Kubernetes,
// compose, systemd, Terraform's user data) with loadtest's own flags.
func TestDeployCommands(t *testing.T) {
	deploy.CheckCommands(t, filepath.Join("..", "..", "deploy"), "loadtest", func(args []string) error {
		return run(context.Background(), args, io.Discard, io.Discard)
	})
}
