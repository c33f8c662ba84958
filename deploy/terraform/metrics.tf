# Prometheus scrapes the agents (found by their EC2 tag), the coordinator and the Mattermost
# app nodes; Grafana shows the dashboards of deploy/grafana.
resource "aws_iam_role" "metrics" {
  name = "${var.name}-metrics"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Principal = { Service = "ec2.amazonaws.com" }, Action = "sts:AssumeRole" }]
  })
}

resource "aws_iam_role_policy" "metrics" {
  role = aws_iam_role.metrics.id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = ["ec2:DescribeInstances", "ec2:DescribeAvailabilityZones"], Resource = "*" }]
  })
}

resource "aws_iam_instance_profile" "metrics" {
  name = "${var.name}-metrics"
  role = aws_iam_role.metrics.name
}

resource "aws_instance" "metrics" {
  ami                    = data.aws_ami.debian.id
  instance_type          = var.metrics_instance_type
  subnet_id              = aws_subnet.public[0].id
  vpc_security_group_ids = [aws_security_group.main.id]
  key_name               = var.key_name
  iam_instance_profile   = aws_iam_instance_profile.metrics.name
  user_data = templatefile("${path.module}/metrics.sh.tftpl", {
    region      = var.region
    name        = var.name
    agent_token = var.agent_token
    dashboards  = { for f in fileset("${path.module}/../grafana/dashboards", "*.json") : f => file("${path.module}/../grafana/dashboards/${f}") }
  })
  tags = { Name = "${var.name}-metrics" }
}
