"""Mutual TLS between the services and to NATS: a private CA, one certificate per service (and
one for NATS, one for operators' tools) signed by it, and the credentials each side loads.

A server accepts only clients with a certificate from the CA; a client accepts only servers
with one, for the name it dialled. `ensure(directory)` makes what is missing (0600 files):
`copytrade up` calls it for <data-dir>/tls, compose's one-shot `certs` service runs
`python -m services.kit.tls /certs`. A service loads its files from TLS_CA, TLS_CERT, TLS_KEY
(Settings.tls); none set: plaintext.
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import os
import shutil
import ssl
import sysconfig
from pathlib import Path

import grpc
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from services.kit.config import SERVICES, TlsFiles

CA = "ca"
NATS = "nats"
CLIENT = "client"  # the operator CLI, the demo seed, tests and benchmarks
POSTGRES = "postgres"  # compose's database server (deploy/postgres)
# Each certificate's names beyond localhost and 127.0.0.1: a service's compose DNS name, the
# compose NATS nodes' (docker-compose.yml; their routes use the same certificate).
NAMES: dict[str, tuple[str, ...]] = {**{s: (s,) for s in SERVICES}, NATS: ("nats-1", "nats-2", "nats-3"),
                                     POSTGRES: ("postgres",), CLIENT: ()}
LOCAL = ("localhost", "127.0.0.1")
CA_DAYS = 3650
LEAF_DAYS = 365
RENEW_WITHIN = datetime.timedelta(days=30)  # a certificate closer to its end is made again
CLOCK_SKEW = datetime.timedelta(minutes=5)  # hosts' clocks differ a little


def files(directory: Path, name: str) -> TlsFiles:
    """Where `name`'s certificate and key are in `directory`, with the CA."""
    directory = Path(directory)
    return TlsFiles(ca=directory / f"{CA}.pem", cert=directory / f"{name}.pem", key=directory / f"{name}-key.pem")


def tool_files(data_dir: Path) -> TlsFiles | None:
    """The tools' certificate `up` made in data_dir (None: none there, the mesh is plaintext)."""
    found = files(Path(data_dir) / "tls", CLIENT)
    return found if found.cert.exists() else None


def grpcurl_flags(tls: TlsFiles | None) -> str:
    """How grpcurl reaches a service with these files (-plaintext without)."""
    return f"-cacert {tls.ca} -cert {tls.cert} -key {tls.key}" if tls else "-plaintext"


def grpcurl_command(tls: TlsFiles | None) -> str:
    """grpcurl and its flags as an operator can paste them: the venv's binary by its path when
    the venv is not on PATH (`./dev up` does not put it there)."""
    binary = "grpcurl"
    installed = Path(sysconfig.get_path("scripts")) / binary
    if installed.exists() and shutil.which(binary) != str(installed):
        binary = str(installed.relative_to(Path.cwd())) if installed.is_relative_to(Path.cwd()) else str(installed)
    return f"{binary} {grpcurl_flags(tls)}"


def _write(path: Path, data: bytes) -> None:
    """Written whole (a reader never sees half a key) and 0600 from the start."""
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
        out.write(data)
    os.replace(partial, path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _sans(names) -> list[x509.GeneralName]:
    out: list[x509.GeneralName] = []
    for name in dict.fromkeys(names):
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            out.append(x509.DNSName(name))
    return out


def _make_ca(directory: Path, key_path: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "copytrade mesh CA")])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(_now() - CLOCK_SKEW).not_valid_after(_now() + datetime.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False),
                           critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    _write(key_path, _key_pem(key))
    _write(directory / f"{CA}.pem", cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def _make_leaf(directory: Path, name: str, sans: list[str], ca: x509.Certificate,
               ca_key: ec.EllipticCurvePrivateKey) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(_now() - CLOCK_SKEW).not_valid_after(_now() + datetime.timedelta(days=LEAF_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False),
                           critical=True)
            # Every peer is a server to some and a client of others (NATS routes too).
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .add_extension(x509.SubjectAlternativeName(_sans(sans)), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = files(directory, name)
    _write(paths.key, _key_pem(key))
    _write(paths.cert, cert.public_bytes(serialization.Encoding.PEM))


def _current(path: Path, ca: x509.Certificate, sans: list[str]) -> bool:
    """A certificate still good: signed by this CA, not near its end, naming every name wanted."""
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
        cert.verify_directly_issued_by(ca)
        named = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, TypeError, x509.ExtensionNotFound, InvalidSignature):
        return False
    return cert.not_valid_after_utc - RENEW_WITHIN > _now() and set(_sans(sans)) <= set(named)


def ensure(directory: Path, names: tuple[str, ...] = tuple(NAMES), hosts: tuple[str, ...] = (),
           ca_key_dir: Path | None = None) -> Path:
    """The CA and every name's certificate in `directory`, made where missing, expiring within
    RENEW_WITHIN, signed by another CA or lacking a name; `hosts`: more names every certificate
    carries (the address `up` listens on); `ca_key_dir`: where the CA's key is kept instead of
    beside the certificates (compose: a volume only the certs service mounts, so a service that
    reads the certs volume cannot sign a certificate). Rotation: remove the directory's files
    (or only ca.pem) and run again; every certificate is then signed by a new CA. Returns
    `directory`."""
    directory = Path(directory)
    for place in {directory, Path(ca_key_dir or directory)}:
        place.mkdir(parents=True, exist_ok=True)
        place.chmod(0o700)
    ca_path, ca_key_path = directory / f"{CA}.pem", Path(ca_key_dir or directory) / f"{CA}-key.pem"
    beside = directory / f"{CA}-key.pem"
    if ca_key_path != beside and beside.exists():  # kept beside the certificates before: moved away
        if not ca_key_path.exists():
            _write(ca_key_path, beside.read_bytes())
        beside.unlink()
    try:
        ca = x509.load_pem_x509_certificate(ca_path.read_bytes())
        ca_key = serialization.load_pem_private_key(ca_key_path.read_bytes(), None)
        if ca.not_valid_after_utc - RENEW_WITHIN <= _now():
            raise ValueError("the CA is near its end")
    except (OSError, ValueError):
        ca, ca_key = _make_ca(directory, ca_key_path)
    for name in names:
        sans = [*NAMES.get(name, (name,)), *LOCAL, *hosts]
        if not _current(files(directory, name).cert, ca, sans):
            _make_leaf(directory, name, sans, ca, ca_key)
    return directory


def _read(tls: TlsFiles) -> tuple[bytes, bytes, bytes]:
    return tls.ca.read_bytes(), tls.cert.read_bytes(), tls.key.read_bytes()


def server_credentials(tls: TlsFiles) -> grpc.ServerCredentials:
    """A gRPC port that takes only clients holding a certificate from the CA."""
    ca, cert, key = _read(tls)
    return grpc.ssl_server_credentials([(key, cert)], root_certificates=ca, require_client_auth=True)


def channel_credentials(tls: TlsFiles) -> grpc.ChannelCredentials:
    """A gRPC client that trusts only the CA and shows its own certificate."""
    ca, cert, key = _read(tls)
    return grpc.ssl_channel_credentials(root_certificates=ca, private_key=key, certificate_chain=cert)


def nats_context(tls: TlsFiles) -> ssl.SSLContext:
    """A NATS client's TLS: the server checked against the CA (and its name), our certificate shown."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(tls.ca))
    context.load_cert_chain(str(tls.cert), str(tls.key))
    return context


def nats_server_block(tls: TlsFiles) -> dict:
    """nats-server's `tls` block: clients and routes must show a certificate from the CA."""
    return {"cert_file": str(tls.cert), "key_file": str(tls.key), "ca_file": str(tls.ca), "verify": True,
            "timeout": 5}  # seconds for a handshake: a busy host's Python clients can be slow


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.kit.tls",
                                     description="make the mesh's CA and certificates where missing")
    parser.add_argument("directory", type=Path)
    parser.add_argument("--host", action="append", default=[], help="another name every certificate carries")
    parser.add_argument("--ca-key-dir", type=Path, help="keep the CA's key here, not beside the certificates")
    args = parser.parse_args(argv)
    os.umask(0o077)
    ensure(args.directory, hosts=tuple(args.host), ca_key_dir=args.ca_key_dir)
    print(f"certificates in {args.directory}: {', '.join(NAMES)} (CA: {CA}.pem)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
