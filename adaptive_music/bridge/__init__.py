"""The ZeroMQ bridge: games drive a live soundtrack with msgpack messages.

bridge/PROTOCOL.md (in the source tree) is the wire contract.
"""

from .client import AsyncSubscription, Client, EngineStream, Event, Listener, Subscription
from .keys import ClientKeys, ServerKeys, generate_keys
from .limits import Limits
from .live import LiveSoundtrack
from .protocol import DEFAULT_COMMANDS, DEFAULT_EVENTS, VERSION, BridgeError
from .server import Server, ServerStats

__all__ = [
    "AsyncSubscription",
    "BridgeError",
    "Client",
    "ClientKeys",
    "DEFAULT_COMMANDS",
    "DEFAULT_EVENTS",
    "EngineStream",
    "Event",
    "Limits",
    "Listener",
    "LiveSoundtrack",
    "Server",
    "ServerKeys",
    "ServerStats",
    "Subscription",
    "VERSION",
    "generate_keys",
]
