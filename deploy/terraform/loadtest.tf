locals {
  target_url = var.create_mattermost ? "http://${aws_instance.proxy[0].private_ip}" : var.target_url
}

# The coordinator runs one capacity search when the agents have joined, then stays up with
# its report (systemctl start loadtest-coordinator for another search).
resource "aws_instance" "coordinator" {
  ami                    = data.aws_ami.debian.id
  instance_type          = var.coordinator_instance_type
  subnet_id              = aws_subnet.public[0].id
  vpc_security_group_ids = [aws_security_group.main.id]
  key_name               = var.key_name
  user_data = templatefile("${path.module}/coordinator.sh.tftpl", {
    release_url      = var.release_url
    agent_token      = var.agent_token
    target_url       = local.target_url
    prometheus_url   = "http://${aws_instance.metrics.private_ip}:9090"
    agent_count      = var.agent_count
    max_active_users = var.max_active_users
  })
  tags = { Name = "${var.name}-coordinator" }
}

resource "aws_launch_template" "agent" {
  name_prefix            = "${var.name}-agent-"
  image_id               = data.aws_ami.debian.id
  instance_type          = var.agent_instance_type
  key_name               = var.key_name
  vpc_security_group_ids = [aws_security_group.main.id]
  user_data = base64encode(templatefile("${path.module}/agent.sh.tftpl", {
    release_url      = var.release_url
    agent_token      = var.agent_token
    coordinator_host = aws_instance.coordinator.private_ip
  }))
  tag_specifications {
    resource_type = "instance"
    tags          = { Name = "${var.name}-agent" }
  }
}

# The agents join the coordinator by themselves: scaling the group adds or removes agents,
# and the coordinator takes a new one into its next step.
resource "aws_autoscaling_group" "agents" {
  name                = "${var.name}-agents"
  desired_capacity    = var.agent_count
  min_size            = 0
  max_size            = max(var.agent_count, 1) * 4
  vpc_zone_identifier = aws_subnet.public[*].id
  launch_template {
    id      = aws_launch_template.agent.id
    version = "$Latest"
  }
}
