// Package mmsim is a Mattermost-compatible test server: the subset of the Mattermost REST API
// v4 and WebSocket protocol that load-test users call, an in-memory store safe under
// concurrent load, Prometheus metrics under Mattermost's names, and an optional capacity model
// (W workers × service time S per request) that gives load tests a known answer.
//
// Create a Server with New and run it with Run or Serve. The route table in routes.go is the
// one list of what is served; the contract tests check it against the official OpenAPI
// reference. docs/mmsim.md describes the protocol and the model.
package mmsim
