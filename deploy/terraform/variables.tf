variable "region" {
  description = "AWS region."
  type        = string
  default     = "us-east-1"
}

variable "name" {
  description = "Prefix of every resource's name."
  type        = string
  default     = "loadtest"
}

variable "allowed_cidr" {
  description = "Who may reach the coordinator's status, Prometheus, Grafana and SSH (your address, e.g. 203.0.113.7/32)."
  type        = string
}

variable "key_name" {
  description = "An EC2 key pair for SSH, or null for none."
  type        = string
  default     = null
}

variable "release_url" {
  description = "URL of the loadtest release archive for linux/amd64 (make release: loadtest_VERSION_linux_amd64.tar.gz)."
  type        = string
}

variable "agent_token" {
  description = "The agents' bearer token (the coordinator calls them with it; they present it when they join)."
  type        = string
  sensitive   = true
}

variable "agent_count" {
  description = "Agents in the autoscaling group."
  type        = number
  default     = 3
}

variable "agent_instance_type" {
  description = "One agent's instance: c7i.xlarge (4 vCPU, 8 GiB) runs about 3,000 simulative or 8,000 noop users at utilization 0.8 (docs/benchmarks.md)."
  type        = string
  default     = "c7i.xlarge"
}

variable "coordinator_instance_type" {
  description = "The coordinator's instance."
  type        = string
  default     = "t3.medium"
}

variable "max_active_users" {
  description = "The most users the search may try (ClusterConfig.MaxActiveUsers)."
  type        = number
  default     = 10000
}

variable "target_url" {
  description = "The Mattermost to load when create_mattermost is false, e.g. https://mattermost.example.com."
  type        = string
  default     = ""
}

variable "create_mattermost" {
  description = "Also create a Mattermost cluster to load: app nodes behind an nginx proxy, an Aurora PostgreSQL writer and readers."
  type        = bool
  default     = false
}

variable "mattermost_version" {
  description = "Mattermost server version for the app nodes."
  type        = string
  default     = "10.11.0"
}

variable "mattermost_license" {
  description = "An Enterprise license (its text), for the cluster and metrics; empty: a single app node without Performance Monitoring."
  type        = string
  default     = ""
  sensitive   = true
}

variable "app_count" {
  description = "Mattermost app nodes."
  type        = number
  default     = 2
}

variable "app_instance_type" {
  description = "A Mattermost app node's instance."
  type        = string
  default     = "c7i.xlarge"
}

variable "proxy_instance_type" {
  description = "The nginx proxy's instance."
  type        = string
  default     = "c7i.large"
}

variable "db_instance_class" {
  description = "The Aurora PostgreSQL instances' class."
  type        = string
  default     = "db.r7g.large"
}

variable "db_reader_count" {
  description = "Aurora read replicas besides the writer."
  type        = number
  default     = 1
}

variable "db_password" {
  description = "The Mattermost database user's password."
  type        = string
  default     = ""
  sensitive   = true
}

variable "metrics_instance_type" {
  description = "The Prometheus and Grafana host's instance."
  type        = string
  default     = "t3.large"
}
