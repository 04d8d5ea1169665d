"""Credentials of the embedded database: its one user, its password, and how it is provisioned.

SecantusDB requires authentication only when started with ``--auth``, and its users can only be
created over the wire, by a database running without ``--auth``. So that no other local process
can use that moment, the provisioning database accepts only TLS clients presenting a certificate
from a certificate authority made for this one provisioning: the authority's key never leaves
this process's memory and the client's key lives, owner-only, just as long as the provisioning.
What another process can still do then is stall it: the database takes TLS handshakes one at a
time, without a timeout, so a silent connection makes this start fail (it gets nothing in).
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pymongo import AsyncMongoClient
from pymongo.errors import OperationFailure

from tokens_server.owner_only import write_private_file

USER = "tokens"
HOST = "127.0.0.1"
_AUTHENTICATION_FAILED = 18
_USER_ALREADY_EXISTS = 51003
# Long enough for one provisioning, short enough that a leftover certificate is soon worthless.
_CERTIFICATE_LIFETIME = datetime.timedelta(hours=1)
_CLOCK_SKEW = datetime.timedelta(minutes=5)


def new_password() -> str:
    return secrets.token_urlsafe(32)  # 256 random bits


def connection_uri(port: int, password: str) -> str:
    return (
        f"mongodb://{USER}:{quote(password, safe='')}@{HOST}:{port}/"
        "?directConnection=true&authSource=admin"
    )


def read_password(uri_file: Path) -> str | None:
    """The password in a connection URI file written at an earlier start; None if there is none."""
    try:
        text = uri_file.read_text().strip()
    except FileNotFoundError:
        return None
    password = urlsplit(text).password
    return unquote(password) if password else None


def write_uri(uri_file: Path, port: int, password: str) -> None:
    write_private_file(uri_file, connection_uri(port, password) + "\n")


@dataclass(frozen=True)
class ProvisioningTLS:
    """Certificate files for one provisioning: the database's and the one client's."""

    ca_file: Path
    server_certificate: Path
    server_key: Path
    client_certificate_and_key: Path

    def database_args(self) -> list[str]:
        return [
            "--tls-cert-file", str(self.server_certificate),
            "--tls-key-file", str(self.server_key),
            "--tls-ca-file", str(self.ca_file),
            "--tls-require-client-cert",
        ]  # fmt: skip

    def client(self, port: int, timeout_ms: int) -> AsyncMongoClient[dict[str, object]]:
        return AsyncMongoClient(
            f"mongodb://{HOST}:{port}/?directConnection=true",
            tls=True,
            tlsCAFile=str(self.ca_file),
            tlsCertificateKeyFile=str(self.client_certificate_and_key),
            serverSelectionTimeoutMS=timeout_ms,
        )


@contextlib.contextmanager
def provisioning_tls(parent: Path) -> Iterator[ProvisioningTLS]:
    """Make a throwaway authority and its two certificates in a private directory in ``parent``;
    remove them afterwards."""
    directory = Path(tempfile.mkdtemp(prefix=".provisioning-", dir=parent))  # mode 0700
    try:
        now = datetime.datetime.now(datetime.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = _certificate(_name("tokens provisioning authority"), ca_key, ca_key, now, ca=True)
        server_key = ec.generate_private_key(ec.SECP256R1())
        server = _certificate(_name(HOST), server_key, ca_key, now, ca=False, issuer=ca)
        client_key = ec.generate_private_key(ec.SECP256R1())
        client = _certificate(_name("tokens-server"), client_key, ca_key, now, ca=False, issuer=ca)
        tls = ProvisioningTLS(
            ca_file=directory / "ca.pem",
            server_certificate=directory / "server.pem",
            server_key=directory / "server.key",
            client_certificate_and_key=directory / "client.pem",
        )
        write_private_file(tls.ca_file, _pem(ca))
        write_private_file(tls.server_certificate, _pem(server))
        write_private_file(tls.server_key, _pem_key(server_key))
        write_private_file(tls.client_certificate_and_key, _pem(client) + _pem_key(client_key))
        yield tls
    finally:
        shutil.rmtree(directory, ignore_errors=True)


async def set_password(
    tls: ProvisioningTLS, port: int, password: str, timeout_ms: int = 10_000
) -> None:
    """Create the server's user with ``password``, or give an existing one that password.

    The user may exist already when a data directory lost its connection URI file; only this
    server's owner, who can start it on that directory, can get here.
    """
    client = tls.client(port, timeout_ms)
    try:
        try:
            await client.admin.command(
                "createUser", USER, pwd=password, roles=[{"role": "root", "db": "admin"}]
            )
        except OperationFailure as error:
            if error.code != _USER_ALREADY_EXISTS:
                raise
            await client.admin.command("updateUser", USER, pwd=password)
    finally:
        await client.close()


async def authenticates(port: int, password: str, timeout_ms: int = 10_000) -> bool:
    """Whether ``password`` opens the database on ``port``; False only for a refused password."""
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        connection_uri(port, password), serverSelectionTimeoutMS=timeout_ms
    )
    try:
        await client.admin.command("ping")
    except OperationFailure as error:
        if error.code != _AUTHENTICATION_FAILED:
            raise
        return False
    finally:
        await client.close()
    return True


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    signing_key: ec.EllipticCurvePrivateKey,
    now: datetime.datetime,
    *,
    ca: bool,
    issuer: x509.Certificate | None = None,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject if issuer is None else issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _CLOCK_SKEW)
        .not_valid_after(now + _CERTIFICATE_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:  # the driver checks the database's address against its certificate
        address = x509.IPAddress(ipaddress.ip_address(HOST))
        builder = builder.add_extension(x509.SubjectAlternativeName([address]), critical=False)
    return builder.sign(signing_key, hashes.SHA256())


def _pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def _pem_key(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
