output "coordinator_status_url" {
  description = "The search's live status (GET /status, /report, /metrics)."
  value       = "http://${aws_instance.coordinator.public_ip}:4010/status"
}

output "grafana_url" {
  description = "Grafana with the coordinator, agents and target dashboards."
  value       = "http://${aws_instance.metrics.public_ip}:3000"
}

output "prometheus_url" {
  description = "Prometheus, scraping the agents, the coordinator and the app nodes."
  value       = "http://${aws_instance.metrics.public_ip}:9090"
}

output "target_url" {
  description = "The Mattermost the agents load."
  value       = local.target_url
}
