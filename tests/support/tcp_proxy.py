"""A TCP proxy on 127.0.0.1 that a test puts between the app and its database, and turns bad.

- ``forward()``: relays both ways.
- ``refuse()``: as a database that is down: open connections are closed and nothing listens on the
  port any more, so connecting is refused at once.
- ``drop()``: a black hole: new connections are accepted and hear nothing, bytes either way on open
  ones are swallowed and nothing is closed, as when a firewall or a broken link drops packets. On the
  next ``forward()`` the connections that lost bytes are closed (their conversation cannot go on);
  the ones that were quiet carry on.
"""

from __future__ import annotations

import selectors
import socket
import threading


class TcpProxy:
    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.mode = "forward"
        self._lock = threading.Lock()
        self._pairs: list[_Pair] = []
        self._listener: socket.socket | None = None
        self._closed = False
        self.port = self._listen(0)
        self._thread = threading.Thread(target=self._accept_loop, name="tcp-proxy", daemon=True)
        self._thread.start()

    def forward(self) -> None:
        with self._lock:
            self.mode = "forward"
            for pair in [p for p in self._pairs if p.lost_bytes]:
                pair.close()
            self._pairs = [p for p in self._pairs if not p.closed]
            if self._listener is None:
                self._listen(self.port)

    def refuse(self) -> None:
        with self._lock:
            self.mode = "refuse"
            if self._listener is not None:
                self._listener.close()
                self._listener = None
            for pair in self._pairs:
                pair.close()
            self._pairs = []

    def drop(self) -> None:
        with self._lock:
            self.mode = "drop"
            if self._listener is None:
                self._listen(self.port)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._listener is not None:
                self._listener.close()
                self._listener = None
            for pair in self._pairs:
                pair.close()
        self._thread.join(10)

    def _listen(self, port: int) -> int:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(64)
        listener.setblocking(False)
        self._listener = listener
        return listener.getsockname()[1]

    def _accept_loop(self) -> None:
        while True:
            with self._lock:
                if self._closed:
                    return
                listener = self._listener
            if listener is None:
                threading.Event().wait(0.02)
                continue
            try:
                ready = selectors.DefaultSelector()
                ready.register(listener, selectors.EVENT_READ)
                events = ready.select(0.05)
                ready.close()
                if not events:
                    continue
                client, _ = listener.accept()
            except (OSError, ValueError):  # closed by refuse() meanwhile
                continue
            client.setblocking(True)
            pair = _Pair(self, client)
            with self._lock:
                self._pairs.append(pair)
            threading.Thread(target=pair.pump, name="tcp-proxy-pair", daemon=True).start()


class _Pair:
    """One client connection and, once forwarding, its connection to the target."""

    def __init__(self, proxy: TcpProxy, client: socket.socket):
        self.proxy = proxy
        self.client = client
        self.upstream: socket.socket | None = None
        self.lost_bytes = False
        self.closed = False

    def close(self) -> None:
        self.closed = True
        for sock in (self.client, self.upstream):
            if sock is not None:
                try:
                    sock.close()
                except OSError:
                    pass

    def pump(self) -> None:
        try:
            self._pump()
        except (OSError, ValueError):  # closed by forward() or close() meanwhile
            pass
        finally:
            if self.proxy.mode != "drop":
                self.close()

    def _pump(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self.client, selectors.EVENT_READ, "client")
        while not self.closed:
            if self.upstream is None and self.proxy.mode == "forward" and not self.lost_bytes:
                self.upstream = socket.create_connection(self.proxy.target, timeout=10)
                selector.register(self.upstream, selectors.EVENT_READ, "upstream")
            for key, _ in selector.select(0.05):
                data = key.fileobj.recv(65536)
                if self.proxy.mode == "drop" or self.lost_bytes:
                    # Swallowed; a side that hangs up is not told to the other.
                    self.lost_bytes = True
                    if not data:
                        selector.unregister(key.fileobj)
                        if key.data == "client":
                            return
                    continue
                if not data:
                    return
                other = self.upstream if key.data == "client" else self.client
                other.sendall(data)
