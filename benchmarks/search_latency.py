"""Retrieval latency: faiss search with in-search filters vs a numpy brute-force baseline, same run.

Reports process start-up (imports + catalog + cached index + encoder load) separately from
the warm per-query work. JSON object last.

    python benchmarks/search_latency.py [--queries 200]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from dataclasses import asdict, dataclass

T0 = time.perf_counter()

import sys  # noqa: E402
from pathlib import Path as _Path  # noqa: E402

# Run as a script, this folder comes first on sys.path and benchmarks/memory.py would shadow the memory package.
sys.path.insert(0, str(_Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

QUERIES = [
    "space adventure with robots",
    "something light and funny for tonight",
    "a scary ghost story",
    "animated film for kids",
    "a gritty crime thriller",
    "romantic comedy in new york",
    "epic war film",
    "a western with gunfights",
]


@dataclass(frozen=True)
class Config:
    queries: int = 200
    k: int = 10


def percentile_ms(samples: list[float], q: float) -> float:
    return float(np.percentile(np.array(samples) * 1000, q))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queries", type=int, default=Config.queries)
    args = parser.parse_args()
    config = Config(queries=args.queries)

    from recsys.datasets import load_catalog
    from recsys.filters import ItemFilter
    from recsys.retrieval import ItemIndex

    t = time.perf_counter()
    catalog = load_catalog("ml-100k")
    catalog_s = time.perf_counter() - t
    t = time.perf_counter()
    index = ItemIndex.build_or_load(catalog)
    index_s = time.perf_counter() - t
    t = time.perf_counter()
    index.encoder.model
    encoder_s = time.perf_counter() - t
    startup_s = time.perf_counter() - T0

    filters = ItemFilter(genres_none=frozenset({"Horror"}), year_min=1980)
    vectors = index.index.reconstruct_n(0, index.index.ntotal)
    texts = [QUERIES[i % len(QUERIES)] + ("" if i < len(QUERIES) else f" #{i}") for i in range(config.queries)]
    index.search(texts[0], config.k, filters)  # warm-up

    ours, base, encode, faiss_only = [], [], [], []
    mask = catalog.mask(filters)
    for text in texts:
        index.encoder.clear_cache()  # every query is encoded cold, as a new user message would be
        t = time.perf_counter()
        index.search(text, config.k, filters)
        ours.append(time.perf_counter() - t)
        index.encoder.clear_cache()
        t = time.perf_counter()
        q = index.encoder.encode(text)
        encode.append(time.perf_counter() - t)
        # Same vector: faiss with the in-search filter vs the baseline, numpy brute force + mask + top-k.
        t = time.perf_counter()
        index.search_vectors(q[None, :], config.k, filters)
        faiss_only.append(time.perf_counter() - t)
        t = time.perf_counter()
        scores = vectors @ q
        scores[~mask] = -np.inf
        np.argpartition(-scores, config.k)[: config.k]
        base.append(time.perf_counter() - t)

    result = {
        "config": asdict(config),
        "machine": f"{platform.processor() or platform.machine()}, {__import__('os').cpu_count()} cores",
        "startup_s": round(startup_s, 3),
        "catalog_load_s": round(catalog_s, 3),
        "index_load_s": round(index_s, 3),
        "encoder_load_s": round(encoder_s, 3),
        "search_p50_ms": round(percentile_ms(ours, 50), 3),
        "search_p95_ms": round(percentile_ms(ours, 95), 3),
        "encode_p50_ms": round(percentile_ms(encode, 50), 3),
        "filtered_faiss_p50_ms": round(percentile_ms(faiss_only, 50), 3),
        "bruteforce_baseline_p50_ms": round(percentile_ms(base, 50), 3),
        "p50_ratio_faiss_over_bruteforce": round(np.median(faiss_only) / np.median(base), 3),
    }
    print(f"start-up {startup_s:.2f} s (catalog {catalog_s:.2f}, index {index_s:.2f}, encoder {encoder_s:.2f})")
    print(
        f"warm search p50 {result['search_p50_ms']} ms, p95 {result['search_p95_ms']} ms "
        f"(query encoding p50 {result['encode_p50_ms']} ms); filtered faiss p50 {result['filtered_faiss_p50_ms']} ms "
        f"vs numpy brute force {result['bruteforce_baseline_p50_ms']} ms"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
