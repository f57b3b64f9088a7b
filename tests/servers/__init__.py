"""Real servers for tests, started by hand (no systemd): OpenSSH sshd on loopback or inside a network
namespace, and moto's S3 server. Plain helpers, so any test package can build fixtures on them."""
