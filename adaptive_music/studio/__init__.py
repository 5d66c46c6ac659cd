"""The studio: a local web page to audition, watch and edit a mood map (``adaptive-music studio``).

Its web server is a bridge client: page actions become bridge requests and the
bridge's published events go to the page over a WebSocket.
"""

from .app import make_app
from .mapfile import MapFile
from .render import Timeline
from .stems_preview import StemsPreview

__all__ = ["MapFile", "StemsPreview", "Timeline", "make_app"]
