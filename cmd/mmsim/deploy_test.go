package main

import (
	"context"
	"io"
	"path/filepath"
	"testing"

	"github.com/loadtest/loadtest/deploy"
)

// TestDeployCommands parses every mmsim command line of the deployment files (Kubernetes,
// compose, systemd, Terraform's user data) with mmsim's own flags.
func TestDeployCommands(t *testing.T) {
	deploy.CheckCommands(t, filepath.Join("..", "..", "deploy"), "mmsim", func(args []string) error {
		return run(context.Background(), args, io.Discard, io.Discard)
	})
}
