"""CURVE key files for an encrypted, authenticated bridge.

A key directory holds::

    server.key            the server's public key: give it to every client
    server.key_secret     the server's secret key: keep it on the server
    clients/NAME.key      public keys of the clients the server accepts
    clients/NAME.key_secret   a client's secret key: give it to that client only

The files are ZeroMQ's certificate format (``zmq.auth``).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import zmq
import zmq.auth

SERVER = "server"
CLIENTS = "clients"


@dataclasses.dataclass(frozen=True)
class ServerKeys:
    """The server's key pair and the folder of accepted client public keys."""

    public: bytes
    secret: bytes
    clients: Path

    @classmethod
    def load(cls, directory: str | Path) -> "ServerKeys":
        directory = Path(directory)
        public, secret = _load(directory / f"{SERVER}.key_secret")
        clients = directory / CLIENTS
        if not any(clients.glob("*.key")):
            raise FileNotFoundError(f"no client public keys (*.key) in {clients}; run `adaptive-music keygen {directory}`")
        return cls(public, secret, clients)


@dataclasses.dataclass(frozen=True)
class ClientKeys:
    """A client's key pair and the server's public key."""

    public: bytes
    secret: bytes
    server: bytes

    @classmethod
    def load(cls, directory: str | Path, name: str = "client") -> "ClientKeys":
        directory = Path(directory)
        public, secret = _load(directory / CLIENTS / f"{name}.key_secret")
        server, _ = _load(directory / f"{SERVER}.key", secret_needed=False)
        return cls(public, secret, server)

    def apply(self, socket: zmq.Socket) -> None:
        """Make ``socket`` a CURVE client of the server (before connect)."""
        socket.curve_secretkey = self.secret
        socket.curve_publickey = self.public
        socket.curve_serverkey = self.server


def generate_keys(directory: str | Path, clients: tuple[str, ...] = ("client",)) -> list[Path]:
    """Create the server pair (if missing) and one pair per client name (if missing).

    Returns the files written. Secret files are readable by their owner only.
    """
    if not zmq.has("curve"):
        raise RuntimeError("this libzmq was built without CURVE support")
    directory = Path(directory)
    written = []
    for folder, name in [(directory, SERVER)] + [(directory / CLIENTS, c) for c in clients]:
        if not name or os.sep in name or name.startswith("."):
            raise ValueError(f"bad key name {name!r}")
        if (folder / f"{name}.key_secret").exists():
            continue
        folder.mkdir(parents=True, exist_ok=True)
        public, secret = zmq.auth.create_certificates(folder, name)
        os.chmod(secret, 0o600)
        written += [Path(public), Path(secret)]
    return written


def _load(path: Path, secret_needed: bool = True) -> tuple[bytes, bytes | None]:
    if not path.is_file():
        raise FileNotFoundError(f"missing key file {path}; create keys with `adaptive-music keygen DIR`")
    public, secret = zmq.auth.load_certificate(path)
    if secret_needed and not secret:
        raise ValueError(f"{path} holds no secret key")
    return public, secret
