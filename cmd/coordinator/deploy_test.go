package main

import (
	"context"
	"io"
	"path/filepath"
	"testing"

	"github.com/loadtest/loadtest/deploy"
)

// TestDeployCommands parses every coordinator command line of the deployment files (Kubernetes,
// compose, systemd, Terraform's user data) with coordinator's own flags.
func TestDeployCommands(t *testing.T) {
	deploy.CheckCommands(t, filepath.Join("..", "..", "deploy"), "coordinator", func(args []string) error {
		return run(context.Background(), args, io.Discard, io.Discard)
	})
}
