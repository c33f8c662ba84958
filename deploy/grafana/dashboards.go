// Package grafana builds the Grafana dashboards of a load test as code (with Grafana's
// foundation SDK): the coordinator (the search as it narrows), the agents (what the users
// send and see) and the target (Mattermost's own metrics, which mmsim exports under the same
// names). The JSON in dashboards/ is generated from here (TestDashboards keeps it equal;
// LOADTEST_UPDATE_DEFAULTS=1 go test ./deploy/... rewrites it) and provisioned by the
// compose and Kubernetes deployments.
package grafana

import (
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// DatasourceUID is the Prometheus datasource every panel reads; the provisioning files name
// theirs so.
const DatasourceUID = "loadtest-prometheus"

// Panel is one chart: its title, unit, queries (PromQL with Grafana's $__rate_interval) and
// an optional threshold line.
type Panel struct {
	Title     string
	Unit      string
	Queries   []Query
	Threshold float64 // drawn as a red line when not 0
}

// Query is one series of a panel.
type Query struct {
	Expr   string
	Legend string
}

// Dashboard is a named set of panels.
type Dashboard struct {
	UID, Title string
	Panels     []Panel
}

// All returns the dashboards, in the order of their files.
func All() []Dashboard { return []Dashboard{Coordinator(), Agents(), Target()} }

// Coordinator is the capacity search as it narrows: users, the bracket and the answer, each
// query at the last probe against its threshold, probes by verdict, the agents.
func Coordinator() Dashboard {
	return Dashboard{UID: "loadtest-coordinator", Title: "Load test: coordinator", Panels: []Panel{
		{Title: "Users and the bracket", Unit: "short", Queries: []Query{
			{`sum(loadtest_coordinator_active_users)`, "users now"},
			{`max(loadtest_coordinator_supported_users)`, "supported so far"},
			{`max(loadtest_coordinator_bracket_users{bound="high"})`, "first fail"},
		}},
		{Title: "Each query at the last probe, against its threshold", Unit: "short", Queries: []Query{
			{`loadtest_coordinator_query_value`, "{{query}}"},
			{`loadtest_coordinator_query_threshold`, "threshold: {{query}}"},
		}},
		{Title: "Probes by verdict", Unit: "short", Queries: []Query{
			{`sum by (verdict) (loadtest_coordinator_probes_total)`, "{{verdict}}"},
		}},
		{Title: "Users of the last probe", Unit: "short", Queries: []Query{
			{`max(loadtest_coordinator_last_probe_users)`, "users"},
		}},
		{Title: "Agents' utilization (above 0.8 the agent may limit the users)", Unit: "percentunit", Threshold: 0.8, Queries: []Query{
			{`loadtest_coordinator_agent_utilization`, "{{agent}}"},
		}},
		{Title: "Users per agent", Unit: "short", Queries: []Query{
			{`loadtest_coordinator_agent_users`, "{{agent}}"},
		}},
		{Title: "Agents up", Unit: "short", Queries: []Query{
			{`sum(loadtest_coordinator_agent_up)`, "up"},
			{`count(loadtest_coordinator_agent_up)`, "driven"},
		}},
	}}
}

// Agents is what the simulated users send and see, from the agents' exposition.
func Agents() Dashboard {
	return Dashboard{UID: "loadtest-agents", Title: "Load test: agents", Panels: []Panel{
		{Title: "Active users", Unit: "short", Queries: []Query{
			{`sum(loadtest_active_users)`, "active"},
			{`sum(loadtest_users_starting)`, "starting"},
		}},
		{Title: "Requests per second", Unit: "reqps", Queries: []Query{
			{`sum(rate(loadtest_http_request_time_count[$__rate_interval]))`, "requests/s"},
		}},
		{Title: "Request latency", Unit: "s", Queries: []Query{
			{`histogram_quantile(0.5, sum by (le) (rate(loadtest_http_request_time_bucket[$__rate_interval])))`, "p50"},
			{`histogram_quantile(0.99, sum by (le) (rate(loadtest_http_request_time_bucket[$__rate_interval])))`, "p99"},
			{`sum(rate(loadtest_http_request_time_sum[$__rate_interval])) / sum(rate(loadtest_http_request_time_count[$__rate_interval]))`, "mean"},
		}},
		{Title: "p99 latency per route", Unit: "s", Queries: []Query{
			{`histogram_quantile(0.99, sum by (le, method, path) (rate(loadtest_http_request_time_bucket[$__rate_interval])))`, "{{method}} {{path}}"},
		}},
		{Title: "Failed requests per second, by reason", Unit: "reqps", Queries: []Query{
			{`sum by (reason) (rate(loadtest_http_errors_total[$__rate_interval]))`, "{{reason}}"},
		}},
		{Title: "Failures by kind (the target's: server_error, no_response, timeout; the workload's: client_error)", Unit: "reqps", Queries: []Query{
			{`sum by (kind) (rate(loadtest_http_failures_total[$__rate_interval]))`, "{{kind}}"},
		}},
		{Title: "Actions per second", Unit: "ops", Queries: []Query{
			{`sum by (action) (rate(loadtest_actions_total[$__rate_interval]))`, "{{action}}"},
		}},
		{Title: "WebSocket connections", Unit: "short", Queries: []Query{
			{`sum(loadtest_websocket_connections_total)`, "open"},
		}},
		{Title: "Schedule lag p99 (how late actions start: the agent's own delay)", Unit: "s", Queries: []Query{
			{`histogram_quantile(0.99, sum by (le) (rate(loadtest_schedule_lag_seconds_bucket[$__rate_interval])))`, "p99"},
		}},
		{Title: "Agent utilization", Unit: "percentunit", Threshold: 0.8, Queries: []Query{
			{`max by (instance) (loadtest_agent_utilization)`, "{{instance}}"},
		}},
	}}
}

// Target is the Mattermost server's side, by the metric names the real server exports
// (Performance Monitoring) and mmsim exports too.
func Target() Dashboard {
	return Dashboard{UID: "loadtest-target", Title: "Load test: target (Mattermost)", Panels: []Panel{
		{Title: "API requests per second", Unit: "reqps", Queries: []Query{
			{`sum(rate(mattermost_api_time_count[$__rate_interval]))`, "requests/s"},
		}},
		{Title: "API handler time p99, by handler", Unit: "s", Queries: []Query{
			{`histogram_quantile(0.99, sum by (le, handler) (rate(mattermost_api_time_bucket[$__rate_interval])))`, "{{handler}}"},
		}},
		{Title: "Share of 5xx answers", Unit: "percent", Queries: []Query{
			{`(sum(rate(mattermost_api_time_count{status_code=~"5.."}[$__rate_interval])) or vector(0)) / sum(rate(mattermost_api_time_count[$__rate_interval])) * 100`, "5xx %"},
		}},
		{Title: "HTTP errors per second (4xx and 5xx)", Unit: "reqps", Queries: []Query{
			{`sum(rate(mattermost_http_errors_total[$__rate_interval]))`, "errors/s"},
		}},
		{Title: "Open WebSockets", Unit: "short", Queries: []Query{
			{`sum(mattermost_http_websockets_total)`, "open"},
		}},
		{Title: "WebSocket events sent per second, by type", Unit: "ops", Queries: []Query{
			{`sum by (type) (rate(mattermost_websocket_event_total[$__rate_interval]))`, "{{type}}"},
		}},
		{Title: "Logins and posts per second", Unit: "ops", Queries: []Query{
			{`sum(rate(mattermost_login_total[$__rate_interval]))`, "logins"},
			{`sum(rate(mattermost_post_total[$__rate_interval]))`, "posts"},
		}},
	}}
}

// Build renders d as a Grafana dashboard: two panels a row, each 12 wide and 8 high. It is
// the classic (v1) dashboard JSON, which Grafana's file provisioning, the sidecar of its Helm
// chart and grafana.com all read; the SDK's v2 schema needs Grafana 12 with its
// dashboards-as-resources features on.
//
//lint:ignore SA1019 the v1 schema is the one provisioning reads everywhere (see above)
func (d Dashboard) Build() (dashboard.Dashboard, error) {
	ds := common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr(DatasourceUID)}
	//lint:ignore SA1019 as above
	b := dashboard.NewDashboardBuilder(d.Title).Uid(d.UID).Tags([]string{"loadtest"}).
		Refresh("5s").Time("now-30m", "now").Timezone(common.TimeZoneBrowser).Editable()
	for i, p := range d.Panels {
		pb := timeseries.NewPanelBuilder().Title(p.Title).Unit(p.Unit).Datasource(ds).
			GridPos(dashboard.GridPos{X: uint32(12 * (i % 2)), Y: uint32(8 * (i / 2)), W: 12, H: 8})
		for j, q := range p.Queries {
			pb = pb.WithTarget(prometheus.NewDataqueryBuilder().Datasource(ds).Expr(q.Expr).
				LegendFormat(q.Legend).RefId(string(rune('A' + j))))
		}
		if p.Threshold != 0 {
			pb = pb.Thresholds(dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).
				Steps([]dashboard.Threshold{{Color: "green"}, {Value: cog.ToPtr(p.Threshold), Color: "red"}})).
				ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeLine))
		}
		b = b.WithPanel(pb)
	}
	return b.Build()
}

// Instant is expr as Grafana sends it to Prometheus, with $__rate_interval set to 1m (four
// scrape intervals of 15 s, Grafana's rule; the deployments here scrape every 1 to 15 s).
func Instant(expr string) string { return strings.ReplaceAll(expr, "$__rate_interval", "1m") }
