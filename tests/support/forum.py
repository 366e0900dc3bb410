"""A fake Discourse forum on loopback: its POST /posts.json, in a small threaded HTTP server on
127.0.0.1 that records every reply it accepts and can be told to fail with 500 or to rate-limit with
429 and Retry-After, or to take its time answering; and GET /posts/{id}/replies.json for the posts it
is told about (``add_post``)."""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeForum:
    """Discourse's POST /posts.json, recording what it accepts. ``failures`` are answered first."""

    def __init__(self):
        self.accepted: list[dict] = []
        self.attempts = 0
        self.failures: list[tuple[int, dict[str, str]]] = []
        # Seconds between accepting a reply and answering: a sender that dies meanwhile leaves the
        # reply posted without knowing it.
        self.delay = 0.0
        self.posts: dict[int, tuple[int, int]] = {}  # post id: (topic id, post number)
        # The client ports of replies accepted and not yet answered (while ``delay`` runs).
        self.in_flight: set[int] = set()
        self.lookups = 0  # GET /posts/{id}/replies.json requests
        self.lock = threading.Lock()
        forum = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                match = re.fullmatch(r"/posts/(\d+)/replies\.json", self.path)
                with forum.lock:
                    forum.lookups += 1
                    where = forum.posts.get(int(match.group(1))) if match else None
                    replies = [
                        {
                            "id": 1001 + number,
                            "username": reply["headers"].get("Api-Username", ""),
                            "reply_to_post_number": reply["json"]["reply_to_post_number"],
                        }
                        for number, reply in enumerate(forum.accepted)
                        if (reply["json"]["topic_id"], reply["json"]["reply_to_post_number"]) == where
                    ]
                answer = json.dumps(replies if where else {"errors": ["not found"]}).encode()
                self.send_response(200 if where else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with forum.lock:
                    forum.attempts += 1
                    failure = forum.failures.pop(0) if forum.failures else None
                    if failure is None:
                        forum.accepted.append(
                            {"headers": dict(self.headers), "json": body, "path": self.path}
                        )
                        post_id = 1000 + len(forum.accepted)
                if failure is None and forum.delay:
                    port = self.client_address[1]
                    with forum.lock:
                        forum.in_flight.add(port)
                    time.sleep(forum.delay)
                    with forum.lock:
                        forum.in_flight.discard(port)
                if failure is not None:
                    status, headers = failure
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(b'{"errors": ["try later"]}')
                    return
                answer = json.dumps({"id": post_id, "topic_id": body["topic_id"]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def add_post(self, post_id: int, topic_id: int, post_number: int) -> None:
        """A post on the forum, whose replies GET /posts/{post_id}/replies.json lists."""
        with self.lock:
            self.posts[post_id] = (topic_id, post_number)

    def wait_for(self, count: int, seconds: float = 120) -> list[dict]:
        """The replies, once there are ``count``; ``seconds`` only keeps a test from hanging."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.accepted) >= count:
                    return list(self.accepted)
            time.sleep(0.05)
        raise AssertionError(f"the forum got {len(self.accepted)} replies, not {count}")

    def close(self):
        self.server.shutdown()
        self.server.server_close()
