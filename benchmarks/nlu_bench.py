"""NLU benchmark: the figures quoted in docs/nlu.md, from one command.

    .venv/bin/python benchmarks/nlu_bench.py clinc [--data ../shared/nlu/clinc150]
    .venv/bin/python benchmarks/nlu_bench.py own [--folds 5]
    .venv/bin/python benchmarks/nlu_bench.py serve --model-dir DIR [--texts FILE]
    .venv/bin/python benchmarks/nlu_bench.py sentiment [--tweets FILE] [--folds 5]

`clinc` trains on train.jsonl (threshold tuned on valid.jsonl), tests on test.jsonl, and then
measures a fresh process that only loads the model and parses (resident memory, load time,
latency, batched throughput). `own` reports the held-out accuracy and the K-fold
cross-validated accuracy per language on Switchboard's own data. `serve` is the fresh-process
measurement alone. `sentiment` is the K-fold cross-validated macro recall of the sentiment
model on labelled tweets (each fold predicted by a model trained without it), with VADER alone
beside it. Each prints one JSON object per line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def serve(model_dir: Path, texts_file: Path | None) -> dict[str, object]:
    """Load once, then parse as the worker does; report memory and speed."""
    import psutil

    from nlu.pipeline import load

    process = psutil.Process()
    before = process.memory_info().rss
    start = time.perf_counter()
    understander = load(model_dir)
    load_seconds = time.perf_counter() - start
    if texts_file is not None:
        texts = [json.loads(line)["text"] for line in texts_file.read_text().splitlines()]
    else:
        texts = ["my laptop will not start", "批准 CHG-2031", "what's the status of INC-1042?"]
    texts = (texts * (2000 // len(texts) + 1))[:2000]
    for text in texts[:100]:
        understander.parse(text)
    timings = []
    for text in texts[:1000]:
        start = time.perf_counter()
        understander.parse(text)
        timings.append((time.perf_counter() - start) * 1000)
    timings.sort()
    start = time.perf_counter()
    understander.parse_many(texts)
    batched = len(texts) / (time.perf_counter() - start)
    return {
        "load_seconds": round(load_seconds, 3),
        "rss_mb_before_load": round(before / 1e6, 1),
        "rss_mb": round(process.memory_info().rss / 1e6, 1),
        "parse_ms_p50": round(statistics.median(timings), 4),
        "parse_ms_p99": round(timings[int(0.99 * (len(timings) - 1))], 4),
        "parse_many_per_second": round(batched, 1),
    }


def _serve_in_fresh_process(model_dir: Path, texts: Path | None) -> dict[str, object]:
    cmd = [sys.executable, __file__, "serve", "--model-dir", str(model_dir)]
    if texts is not None:
        cmd += ["--texts", str(texts)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    result: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return result


def clinc(data: Path) -> None:
    """CLINC150 accuracy, then the trained model's size and its figures in a fresh process."""
    from nlu.evaluate import evaluate
    from nlu.train import train_model

    report = evaluate(data / "train.jsonl", data / "test.jsonl")
    print(json.dumps({"benchmark": "clinc150", **report.to_dict()}))
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = train_model(Path(tmp), data=data / "train.jsonl", valid=data / "valid.jsonl")
        size = sum(p.stat().st_size for p in model_dir.rglob("*") if p.is_file())
        fresh = _serve_in_fresh_process(model_dir, data / "test.jsonl")
    print(json.dumps({"benchmark": "clinc150-serving", "model_mb": round(size / 1e6, 1), **fresh}))


def own(folds: int) -> None:
    """Held-out and K-fold cross-validated accuracy on Switchboard's own training data."""
    from nlu.evaluate import cross_validate, evaluate

    report = evaluate(None, None)
    print(json.dumps({"benchmark": "own-held-out", **report.to_dict()}, ensure_ascii=False))
    cv = cross_validate(None, folds=folds)
    print(json.dumps({"benchmark": f"own-{folds}-fold", **cv.to_dict()}, ensure_ascii=False))


def sentiment(tweets: Path, folds: int) -> None:
    """K-fold cross-validated macro recall of the sentiment model on labelled tweets."""
    from nlu.sentiment_train import cross_validate, read_labelled

    report = cross_validate(read_labelled(tweets), folds=folds)
    print(json.dumps({"benchmark": f"sentiment-{folds}-fold", **report.to_dict()}))


def main() -> None:
    """Run the benchmark named on the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_clinc = sub.add_parser("clinc")
    p_clinc.add_argument("--data", type=Path, default=ROOT.parent / "shared/nlu/clinc150")
    p_own = sub.add_parser("own")
    p_own.add_argument("--folds", type=int, default=5)
    p_sentiment = sub.add_parser("sentiment")
    p_sentiment.add_argument(
        "--tweets", type=Path, default=ROOT.parent / "shared/nlu/tweeteval-sentiment/valid.jsonl"
    )
    p_sentiment.add_argument("--folds", type=int, default=5)
    p_serve = sub.add_parser("serve")
    p_serve.add_argument("--model-dir", type=Path, required=True)
    p_serve.add_argument("--texts", type=Path)
    args = parser.parse_args()
    if args.command == "clinc":
        clinc(args.data)
    elif args.command == "own":
        own(args.folds)
    elif args.command == "sentiment":
        sentiment(args.tweets, args.folds)
    else:
        print(json.dumps(serve(args.model_dir, args.texts)))


if __name__ == "__main__":
    main()
