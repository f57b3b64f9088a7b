"""``metrics.web_config``: TLS and basic auth from a Prometheus exporter-toolkit web-config file.

The same file node_exporter reads (``tls_server_config``, ``http_server_config``, ``basic_auth_users``)
works here, so operators keep one format and one habit. Relative paths in it resolve against the
file's own folder, as the exporter-toolkit does. Loading proves the file usable (certificate readable,
key matching it, CA loadable, every hash bcrypt) and never puts a hash or a key into a message.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator

from common.configtypes import Section
from common.yamlfile import load_mapping
from jaga.config import Config, ConfigError
from jaga.web.auth import BasicAuth, is_bcrypt

CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
"""exporter-toolkit's client_auth_type values that Python's ssl can honour exactly."""

TLS_VERSIONS = {"TLS10": ssl.TLSVersion.TLSv1, "TLS11": ssl.TLSVersion.TLSv1_1,
                "TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}
TlsVersion = Literal["TLS10", "TLS11", "TLS12", "TLS13"]


class WebConfigError(Exception):
    """A web-config file that cannot be used; the message names the file, the key and what is wrong."""


class TlsServerConfig(Section):
    cert_file: Path | None = None
    key_file: Path | None = None
    client_ca_file: Path | None = None
    client_auth_type: str = ""
    min_version: TlsVersion = "TLS12"
    max_version: TlsVersion = "TLS13"
    prefer_server_cipher_suites: bool = True
    cipher_suites: list[str] = Field(default_factory=list)
    curve_preferences: list[str] = Field(default_factory=list)
    client_allowed_sans: list[str] = Field(default_factory=list)

    @field_validator("client_auth_type")
    @classmethod
    def _client_auth(cls, value: str) -> str:
        if value in ("RequestClientCert", "RequireAnyClientCert"):
            raise ValueError(f"{value} accepts certificates nobody verified, which Python's ssl does not do; "
                             "use VerifyClientCertIfGiven or RequireAndVerifyClientCert with client_ca_file")
        if value and value not in CLIENT_AUTH:
            raise ValueError(f"use one of {', '.join(CLIENT_AUTH)}")
        return value

    @field_validator("cipher_suites", "curve_preferences", "client_allowed_sans")
    @classmethod
    def _not_supported(cls, value: list[str]) -> list[str]:
        if value:
            raise ValueError("not supported by jaga (OpenSSL's defaults are used); remove the key")
        return value


class HttpServerConfig(Section):
    http2: bool = True   # accepted for node_exporter's files; jaga answers HTTP/1.x only
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not name.replace("-", "").isalnum() or any(c in text for c in "\r\n"):
                raise ValueError(f"header {name!r}: a header name is letters, digits and '-', a value one line")
        return value


class WebConfigFile(Section):
    tls_server_config: TlsServerConfig | None = None
    http_server_config: HttpServerConfig = Field(default_factory=HttpServerConfig)
    basic_auth_users: dict[str, SecretStr] = Field(default_factory=dict)


@dataclass(frozen=True)
class WebSecurity:
    """What the listener enforces: one object, swapped whole on SIGHUP."""

    source: Path | None = None
    tls: ssl.SSLContext | None = None
    cert_file: Path | None = None        # what the listener presents (`jaga status` pins it)
    users: BasicAuth | None = None
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def client_certificates(self) -> bool:
        """A verified client certificate authenticates its connection."""
        return self.tls is not None and self.tls.verify_mode != ssl.CERT_NONE

    def describe(self) -> str:
        if self.tls is None:
            return "plain HTTP, no authentication"
        parts = ["HTTPS"]
        if self.tls.verify_mode == ssl.CERT_REQUIRED:
            parts.append("client certificate required")
        elif self.tls.verify_mode == ssl.CERT_OPTIONAL:
            parts.append("client certificate verified if given")
        if self.users is not None:
            parts.append(f"basic auth ({len(self.users)} user(s))")
        return ", ".join(parts)


OPEN = WebSecurity()
"""No web config: plain HTTP, no authentication (then jaga should listen on loopback only)."""


def web_security(config: Config) -> WebSecurity:
    """The listener's TLS and users from ``metrics.web_config``; ConfigError when the file is unusable."""
    try:
        return load_web_config(config.metrics.web_config)
    except WebConfigError as exc:
        raise ConfigError(f"metrics.web_config: {exc}") from None


def load_web_config(path: Path | None) -> WebSecurity:
    """The listener's security from ``path`` (None: OPEN), or WebConfigError saying what is wrong."""
    if path is None:
        return OPEN
    data = load_mapping(path, "the web config", WebConfigError, "tls_server_config, basic_auth_users, ...")
    try:
        parsed = WebConfigFile.model_validate(data)
    except ValidationError as exc:
        lines = [f"{path}: {exc.error_count()} problem(s)"]
        for error in exc.errors():
            loc = ".".join(str(part) for part in error["loc"])
            lines.append(f"  {loc or '(top)'}: {'unknown key' if error['type'] == 'extra_forbidden' else error['msg']}")
        raise WebConfigError("\n".join(lines)) from None
    users = _users(path, parsed.basic_auth_users)
    if parsed.tls_server_config is None:
        if users is not None:
            raise WebConfigError(f"{path}: basic_auth_users need tls_server_config: without TLS the passwords "
                                 "would cross the network in clear text")
        raise WebConfigError(f"{path}: no tls_server_config: a web config makes jaga serve HTTPS only, so it "
                             "needs cert_file and key_file")
    tls, cert_file = _tls_context(path, parsed.tls_server_config)
    headers = tuple(parsed.http_server_config.headers.items())
    return WebSecurity(source=path, tls=tls, cert_file=cert_file, users=users, headers=headers)


def _users(path: Path, users: dict[str, SecretStr]) -> BasicAuth | None:
    if not users:
        return None
    for name, hashed in users.items():
        if not name or ":" in name:
            raise WebConfigError(f"{path}: basic_auth_users: a user name must be non-empty and hold no ':'")
        if not is_bcrypt(hashed.get_secret_value()):
            raise WebConfigError(f"{path}: basic_auth_users.{name}: not a bcrypt hash (make one with "
                                 "`htpasswd -nBC 10 \"\" | tr -d ':\\n'` or Python's bcrypt.hashpw)")
    return BasicAuth({name: hashed.get_secret_value().encode() for name, hashed in users.items()})


def _tls_context(path: Path, tls: TlsServerConfig) -> tuple[ssl.SSLContext, Path]:
    base = path.resolve().parent

    def resolve(p: Path) -> Path:
        return p if p.is_absolute() else base / p

    if tls.cert_file is None or tls.key_file is None:
        raise WebConfigError(f"{path}: tls_server_config needs both cert_file and key_file")
    cert, key = resolve(tls.cert_file), resolve(tls.key_file)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = TLS_VERSIONS[tls.min_version]
    context.maximum_version = TLS_VERSIONS[tls.max_version]
    if context.minimum_version > context.maximum_version:
        raise WebConfigError(f"{path}: tls_server_config.min_version is above max_version")
    for name, file in (("cert_file", cert), ("key_file", key)):
        try:
            file.open("rb").close()
        except OSError as exc:
            raise WebConfigError(f"{path}: tls_server_config.{name}: cannot read {file}: "
                                 f"{exc.strerror or exc}") from None
    try:
        context.load_cert_chain(cert, key)
    except ssl.SSLError as exc:
        detail = "the key does not match the certificate" if "KEY_VALUES_MISMATCH" in str(exc) else \
            f"not a PEM certificate and its unencrypted key ({exc.reason or exc})"
        raise WebConfigError(f"{path}: tls_server_config: {detail}") from None
    auth_type = tls.client_auth_type or ("RequireAndVerifyClientCert" if tls.client_ca_file else "NoClientCert")
    context.verify_mode = CLIENT_AUTH[auth_type]
    if tls.client_ca_file is not None:
        ca = resolve(tls.client_ca_file)
        try:
            context.load_verify_locations(cafile=str(ca))
        except (OSError, ssl.SSLError) as exc:
            raise WebConfigError(f"{path}: tls_server_config.client_ca_file: cannot load {ca}: "
                                 f"{getattr(exc, 'strerror', None) or exc}") from None
    elif context.verify_mode != ssl.CERT_NONE:
        raise WebConfigError(f"{path}: tls_server_config.client_auth_type {auth_type} needs client_ca_file")
    if tls.prefer_server_cipher_suites:
        context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    return context, cert
