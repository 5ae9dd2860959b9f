"""The OpenAI-compatible embedder batches, orders, normalises, retries 5xx, reports 4xx.

The remote API is played by `StandInEmbeddingsAPI`, a stdlib HTTP server on loopback
that answers `POST /v1/embeddings` the way OpenAI's does (in reversed order, to prove that
`index` is honoured), and can be told to fail its next requests.
"""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from mnemo.embeddings import EmbeddingError, OpenAICompatibleEmbedder


class StandInEmbeddingsAPI:
    """A stand-in for a remote embeddings API: text "n" -> the unnormalised vector [n, 1, 2]
    (other text t -> [len(t), 1, 2])."""

    def __init__(self) -> None:
        self.requests: list[dict[str, object]] = []
        self.failures: list[tuple[int, str]] = []  # (status, body) for the next requests
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                api.requests.append({"path": self.path, "auth": self.headers["Authorization"]})
                api.requests[-1].update(body)
                if api.failures:
                    status, reason = api.failures.pop(0)
                    self._answer(status, {"error": {"message": reason}})
                    return
                data = [
                    {"object": "embedding", "index": i, "embedding": [_number(text), 1.0, 2.0]}
                    for i, text in enumerate(body["input"])
                ]
                self._answer(200, {"object": "list", "data": data[::-1], "model": body["model"]})

            def _answer(self, status: int, payload: object) -> None:
                raw = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


def _number(text: str) -> float:
    return float(text) if text.isdecimal() else float(len(text))


@pytest.fixture
def api() -> Iterator[StandInEmbeddingsAPI]:
    stand_in = StandInEmbeddingsAPI()
    thread = threading.Thread(target=stand_in.server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield stand_in
    stand_in.server.shutdown()
    stand_in.server.server_close()


def embedder(api: StandInEmbeddingsAPI, **options: object) -> OpenAICompatibleEmbedder:
    return OpenAICompatibleEmbedder(api.url, "stand-in-model", backoff_seconds=0.01, **options)  # type: ignore[arg-type]


def test_many_texts_go_in_batches_of_128_and_come_back_in_order(
    api: StandInEmbeddingsAPI,
) -> None:
    texts = [str(n) for n in range(300)]
    vectors = np.array(embedder(api).embed(texts))
    assert [len(r["input"]) for r in api.requests] == [128, 128, 44]  # type: ignore[arg-type]
    assert vectors.shape == (300, 3)
    expected = np.array([[n, 1.0, 2.0] for n in range(300)])
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(vectors, expected, atol=1e-12)


def test_vectors_have_unit_length(api: StandInEmbeddingsAPI) -> None:
    norms = np.linalg.norm(np.array(embedder(api).embed(["3", "40", "500"])), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-12)


def test_the_request_names_the_model_and_carries_the_key(api: StandInEmbeddingsAPI) -> None:
    OpenAICompatibleEmbedder(api.url + "/v1/", "m-1", api_key="sk-test").embed(["1"])
    request = api.requests[0]
    assert request["path"] == "/v1/embeddings"
    assert request["model"] == "m-1"
    assert request["auth"] == "Bearer sk-test"


def test_dim_is_learned_from_the_first_answer(api: StandInEmbeddingsAPI) -> None:
    remote = embedder(api)
    assert remote.dim == 3  # asks the server once
    remote.embed(["1", "2"])
    assert len(api.requests) == 2
    assert embedder(api, dim=3).dim == 3
    assert len(api.requests) == 2


def test_a_503_is_retried(api: StandInEmbeddingsAPI) -> None:
    api.failures = [(503, "overloaded")]
    assert len(embedder(api).embed(["1", "2"])) == 2
    assert len(api.requests) == 2


def test_retries_are_bounded(api: StandInEmbeddingsAPI) -> None:
    api.failures = [(502, "bad gateway")] * 10
    with pytest.raises(EmbeddingError, match="502") as raised:
        embedder(api, attempts=3).embed(["1"])
    assert raised.value.status == 502
    assert len(api.requests) == 3


def test_a_4xx_fails_at_once_with_the_servers_reason(api: StandInEmbeddingsAPI) -> None:
    api.failures = [(401, "Incorrect API key provided")]
    with pytest.raises(EmbeddingError, match=r"401.*API key.*Incorrect API key") as raised:
        embedder(api).embed(["1"])
    assert raised.value.status == 401
    assert len(api.requests) == 1


def test_an_unreachable_server_is_a_clear_error() -> None:
    with ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as closed:
        url = f"http://127.0.0.1:{closed.server_address[1]}"
    remote = OpenAICompatibleEmbedder(url, "m", attempts=2, backoff_seconds=0.01)
    with pytest.raises(EmbeddingError, match="unreachable"):
        remote.embed(["1"])


def test_no_texts_make_no_request(api: StandInEmbeddingsAPI) -> None:
    assert embedder(api).embed([]) == []
    assert api.requests == []
