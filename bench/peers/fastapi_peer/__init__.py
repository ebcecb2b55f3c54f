"""The straightforward FastAPI peer (see :mod:`bench.peers.fastapi_peer.app`)."""
