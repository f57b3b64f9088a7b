"""Certificates made at test time (a CA, a server certificate for 127.0.0.1, a client certificate) and
exporter-toolkit web-config files. No private key is ever committed."""

from __future__ import annotations

import base64
import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

USER, PASSWORD = "prometheus", "s3cret-scrape-pass"


@dataclass
class Pki:
    folder: Path
    ca: Path
    cert: Path
    key: Path
    client_cert: Path
    client_key: Path
    other_key: Path   # a key that matches none of the certificates

    def client_context(self, with_certificate: bool = False) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca))
        if with_certificate:
            context.load_cert_chain(self.client_cert, self.client_key)
        return context

    def web_config(self, name: str = "web.yml", users: dict[str, str] | None = None, **tls) -> Path:
        """A web-config file beside the certificates; ``users``: name → password (hashed here)."""
        doc: dict = {"tls_server_config": {"cert_file": self.cert.name, "key_file": self.key.name, **tls}}
        if users:
            doc["basic_auth_users"] = {user: hash_password(password) for user, password in users.items()}
        path = self.folder / name
        path.write_text(yaml.safe_dump(doc))
        return path


def hash_password(password: str, rounds: int = 4) -> str:
    """Cost 4 keeps tests quick; bench/ measures the cost operators use (10)."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds)).decode()


def basic(user: str = USER, password: str = PASSWORD) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def make_pki(folder: Path) -> Pki:
    folder.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "jaga test CA")])
    ca = _builder(ca_name, ca_name, ca_key.public_key()).add_extension(
        x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(ca_key, hashes.SHA256())
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = _builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]), ca_name,
                      server_key.public_key()).add_extension(
        x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
        critical=False).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
                                      ).sign(ca_key, hashes.SHA256())
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = _builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "scraper")]), ca_name,
                      client_key.public_key()).add_extension(
        x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False).sign(ca_key, hashes.SHA256())
    paths = {}
    for name, thing in (("ca.crt", ca), ("server.crt", server), ("client.crt", client)):
        paths[name] = folder / name
        paths[name].write_bytes(thing.public_bytes(serialization.Encoding.PEM))
    for name, key in (("server.key", server_key), ("client.key", client_key),
                      ("other.key", ec.generate_private_key(ec.SECP256R1()))):
        paths[name] = folder / name
        paths[name].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
        paths[name].chmod(0o600)
    return Pki(folder, paths["ca.crt"], paths["server.crt"], paths["server.key"], paths["client.crt"],
               paths["client.key"], paths["other.key"])


def _builder(subject: x509.Name, issuer: x509.Name, public_key) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2)))
