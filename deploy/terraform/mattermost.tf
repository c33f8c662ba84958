# Optional: the system under test, in the shape Mattermost's own load tests use: app nodes
# behind an nginx proxy, an Aurora PostgreSQL writer and readers.

resource "aws_db_subnet_group" "main" {
  count      = var.create_mattermost ? 1 : 0
  name       = "${var.name}-db"
  subnet_ids = aws_subnet.public[*].id
}

resource "aws_rds_cluster" "db" {
  count                  = var.create_mattermost ? 1 : 0
  cluster_identifier     = "${var.name}-db"
  engine                 = "aurora-postgresql"
  database_name          = "mattermost"
  master_username        = "mmuser"
  master_password        = var.db_password
  db_subnet_group_name   = aws_db_subnet_group.main[0].name
  vpc_security_group_ids = [aws_security_group.main.id]
  skip_final_snapshot    = true
}

resource "aws_rds_cluster_instance" "db" {
  count              = var.create_mattermost ? 1 + var.db_reader_count : 0
  identifier         = "${var.name}-db-${count.index}"
  cluster_identifier = aws_rds_cluster.db[0].id
  instance_class     = var.db_instance_class
  engine             = aws_rds_cluster.db[0].engine
}

resource "aws_instance" "app" {
  count                  = var.create_mattermost ? var.app_count : 0
  ami                    = data.aws_ami.debian.id
  instance_type          = var.app_instance_type
  subnet_id              = aws_subnet.public[count.index % 2].id
  vpc_security_group_ids = [aws_security_group.main.id]
  key_name               = var.key_name
  user_data = templatefile("${path.module}/mattermost.sh.tftpl", {
    mattermost_version = var.mattermost_version
    license            = var.mattermost_license
    db_writer          = aws_rds_cluster.db[0].endpoint
    db_reader          = aws_rds_cluster.db[0].reader_endpoint
    db_password        = var.db_password
    site_url           = "http://${var.name}-proxy"
  })
  depends_on = [aws_rds_cluster_instance.db]
  tags       = { Name = "${var.name}-app-${count.index}" }
}

resource "aws_instance" "proxy" {
  count                  = var.create_mattermost ? 1 : 0
  ami                    = data.aws_ami.debian.id
  instance_type          = var.proxy_instance_type
  subnet_id              = aws_subnet.public[0].id
  vpc_security_group_ids = [aws_security_group.main.id]
  key_name               = var.key_name
  user_data = templatefile("${path.module}/proxy.sh.tftpl", {
    app_ips = aws_instance.app[*].private_ip
  })
  tags = { Name = "${var.name}-proxy" }
}
