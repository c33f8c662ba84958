// Package cluster drives the agents of one run (a capacity search or a plan): Agent is
// what it needs of one (agent.Local in process, api.Remote over HTTP), Cluster shares the
// users among those that are up and takes back those that return, Observe reads one tick
// of their status and merged metrics intervals, and Joiner accepts agents that join over a
// WebSocket.
package cluster
