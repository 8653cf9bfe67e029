"""Loopback fakes of GCP Cloud KMS and Azure Key Vault for driving the real SDK clients in tests.

Neither service has an emulator (see test-infra.md sections 4 and 6), so these implement just the
REST calls pulumi-diy makes, with real cryptography behind them:

- :class:`FakeGcpKms` (plain HTTP): ``POST /v1/{key name}:encrypt`` and ``:decrypt`` with
  AES-256-GCM per key and additional authenticated data enforced, like Cloud KMS.
- :class:`FakeAzureKeyVault` (HTTPS, self-signed certificate): RSA keys; ``GET /keys/{name}[/{version}]``
  and ``POST /keys/{name}/{version}/{encrypt|decrypt|wrapkey|unwrapkey}``. A request without a bearer
  token gets the 401 challenge the Key Vault SDK expects.

These are test code owned by the project, not servers: only the shapes the SDKs use are modelled.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import os
import re
import shutil
import ssl
import tempfile
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class _Handler(BaseHTTPRequestHandler):
    """Dispatches to ``self.server.fake.handle(method, path, headers, body)``."""

    protocol_version = "HTTP/1.1"

    def _dispatch(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        fake = self.server.fake  # type: ignore[attr-defined]
        status, headers, payload = fake.handle(method, self.path, self.headers, body)
        data = json.dumps(payload).encode() if payload is not None else b""
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass


class _LoopbackServer:
    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.fake = self  # type: ignore[attr-defined]
        if ssl_context is not None:
            self.httpd.socket = ssl_context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.requests: list[tuple[str, str]] = []
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> tuple[int, dict[str, str], Any]:
        raise NotImplementedError


class FakeGcpKms(_LoopbackServer):
    """``http://127.0.0.1:<port>`` speaking the Cloud KMS v1 REST encrypt/decrypt calls."""

    _PATH = re.compile(
        r"^/v1/(projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/:]+):(encrypt|decrypt)$")

    def __init__(self) -> None:
        super().__init__()
        self.keys: dict[str, bytes] = {}
        self.aads: list[bytes] = []  # additional authenticated data seen, for assertions

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @staticmethod
    def _error(code: int, status: str, message: str) -> tuple[int, dict[str, str], Any]:
        return code, {}, {"error": {"code": code, "message": message, "status": status}}

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> tuple[int, dict[str, str], Any]:
        m = self._PATH.match(path.split("?", 1)[0])
        if method != "POST" or not m:
            return self._error(404, "NOT_FOUND", f"no route for {method} {path}")
        name, op = m.group(1), m.group(2)
        self.requests.append((op, name))
        req = json.loads(body or b"{}")
        aad = base64.b64decode(req.get("additionalAuthenticatedData", ""))
        self.aads.append(aad)
        key = self.keys.setdefault(name, AESGCM.generate_key(256))
        if op == "encrypt":
            nonce = os.urandom(12)
            sealed = AESGCM(key).encrypt(nonce, base64.b64decode(req.get("plaintext", "")), aad)
            return 200, {}, {"name": name + "/cryptoKeyVersions/1",
                             "ciphertext": base64.b64encode(nonce + sealed).decode()}
        blob = base64.b64decode(req.get("ciphertext", ""))
        try:
            plain = AESGCM(key).decrypt(blob[:12], blob[12:], aad)
        except Exception:
            return self._error(400, "INVALID_ARGUMENT", "Decryption failed: the ciphertext is invalid.")
        return 200, {}, {"plaintext": base64.b64encode(plain).decode(), "usedPrimary": True}


class StubAzureCredential:
    """An azure-core ``TokenCredential`` that hands out a fixed token without any network."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken("fake-token", 2**31)


class FakeAzureKeyVault(_LoopbackServer):
    """``https://127.0.0.1:<port>/`` speaking the Key Vault keys REST calls the SDK makes."""

    _ALGS = {
        "RSA-OAEP-256": lambda: padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None),
        "RSA-OAEP": lambda: padding.OAEP(padding.MGF1(hashes.SHA1()), hashes.SHA1(), None),
        "RSA1_5": lambda: padding.PKCS1v15(),
    }
    _KEY = re.compile(r"^/keys/([^/]+)/?([^/]*)$")
    _OP = re.compile(r"^/keys/([^/]+)/([^/]*)/(encrypt|decrypt|wrapkey|unwrapkey)$")

    def __init__(self) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="pulumi-diy-akv-"))
        self.cert_path = self._dir / "cert.pem"
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*self._write_self_signed_cert())
        super().__init__(ctx)
        # name -> list of (version, private key); the last one is the current version
        self.keys: dict[str, list[tuple[str, rsa.RSAPrivateKey]]] = {}
        self.unauthenticated = 0

    def _write_self_signed_cert(self) -> tuple[str, str]:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        key_path = self._dir / "key.pem"
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
        self.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return str(self.cert_path), str(key_path)

    def stop(self) -> None:
        super().stop()
        shutil.rmtree(self._dir, ignore_errors=True)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}/"

    def create_rsa_key(self, name: str) -> str:
        """Add a new version of RSA key ``name``; returns its version."""
        version = uuid.uuid4().hex
        self.keys.setdefault(name, []).append((version, rsa.generate_private_key(65537, 2048)))
        return version

    def _find(self, name: str, version: str) -> tuple[str, rsa.RSAPrivateKey] | None:
        for v, k in reversed(self.keys.get(name, [])):
            if not version or v == version:
                return v, k
        return None

    def _kid(self, name: str, version: str) -> str:
        return f"{self.url}keys/{name}/{version}"

    def _bundle(self, name: str, version: str, key: rsa.RSAPrivateKey) -> dict[str, Any]:
        pub = key.public_key().public_numbers()
        return {
            "key": {"kid": self._kid(name, version), "kty": "RSA",
                    "key_ops": ["encrypt", "decrypt", "wrapKey", "unwrapKey"],
                    "n": _b64url(pub.n.to_bytes((pub.n.bit_length() + 7) // 8, "big")),
                    "e": _b64url(pub.e.to_bytes(3, "big"))},
            "attributes": {"enabled": True, "created": 1700000000, "updated": 1700000000,
                           "recoveryLevel": "Recoverable+Purgeable"},
        }

    @staticmethod
    def _error(code: int, err: str, message: str) -> tuple[int, dict[str, str], Any]:
        return code, {}, {"error": {"code": err, "message": message}}

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> tuple[int, dict[str, str], Any]:
        if not (headers.get("Authorization") or "").startswith("Bearer "):
            self.unauthenticated += 1
            return 401, {"WWW-Authenticate": 'Bearer authorization="https://login.microsoftonline.com/t", '
                                             'resource="https://vault.azure.net"'}, None
        route = path.split("?", 1)[0]
        self.requests.append((method, route))
        if method == "GET" and (m := self._KEY.match(route)):
            found = self._find(m.group(1), m.group(2))
            if found is None:
                return self._error(404, "KeyNotFound", f"key {m.group(1)} not found")
            return 200, {}, self._bundle(m.group(1), found[0], found[1])
        if method == "POST" and (m := self._OP.match(route)):
            found = self._find(m.group(1), m.group(2))
            if found is None:
                return self._error(404, "KeyNotFound", f"key {m.group(1)} not found")
            req = json.loads(body or b"{}")
            alg = self._ALGS.get(req.get("alg", ""))
            if alg is None:
                return self._error(400, "BadParameter", f"unsupported algorithm {req.get('alg')!r}")
            value = _unb64url(req.get("value", ""))
            version, key = found
            try:
                if m.group(3) in ("encrypt", "wrapkey"):
                    out = key.public_key().encrypt(value, alg())
                else:
                    out = key.decrypt(value, alg())
            except ValueError:
                return self._error(400, "BadParameter", "Bad Request")
            return 200, {}, {"kid": self._kid(m.group(1), version), "value": _b64url(out)}
        return self._error(404, "NotFound", f"no route for {method} {route}")
