"""Choosing an embedder from configuration, so services name a kind rather than a class."""

from pathlib import Path

from mnemo.embeddings.embedder import Embedder
from mnemo.embeddings.hashing import HashingEmbedder
from mnemo.embeddings.minilm import MiniLMEmbedder
from mnemo.embeddings.openai_compatible import OpenAICompatibleEmbedder

KINDS = ("minilm", "openai", "hashing")


def embedder_from_settings(
    kind: str = "minilm",
    *,
    url: str | None = None,
    model: str | None = None,
    key: str | None = None,
    dim: int | None = None,
    timeout: float = 30,
    model_dir: Path | None = None,
    batch_size: int = 32,
    precision: str = "float32",
    threads: int | None = None,
) -> Embedder:
    """The embedder of `kind`, from the settings that kind reads.

    - "minilm" (default): all-MiniLM-L6-v2 on this machine; `model_dir`, `batch_size`,
      `precision` ("float32" or "int8"), `threads` (a batch's calls spread over them;
      None: the cores, up to 4); `dim`, if given, must be 384.
    - "openai": an OpenAI-compatible server; `url` and `model` required, `key`, `dim`,
      `timeout` optional.
    - "hashing": feature hashing, no meaning, near-free, for tests; `dim` (default 256).
    """
    if kind == "minilm":
        if dim not in (None, MiniLMEmbedder.dim):
            raise ValueError(
                f"the 'minilm' embedder makes {MiniLMEmbedder.dim}-d vectors, not {dim}"
            )
        return MiniLMEmbedder(
            model_dir, batch_size=batch_size, precision=precision, threads=threads
        )
    if kind == "openai":
        if not url or not model:
            raise ValueError("the 'openai' embedder needs both url= and model=")
        return OpenAICompatibleEmbedder(url, model, api_key=key, dim=dim, timeout=timeout)
    if kind == "hashing":
        return HashingEmbedder(dim or 256)
    raise ValueError(f"unknown embedder kind {kind!r}; expected one of {', '.join(KINDS)}")
