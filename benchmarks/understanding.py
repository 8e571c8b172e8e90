"""Understanding of real and unseen language: the learned reader against the pattern baseline, in one run.

On the **measure** part of redial-dev (real seekers; never trained or tuned on) and on the frozen
statement set (``data/understanding/statements_test.jsonl``):

- message level (labelled measure messages): intent accuracy, lasting-preference detection
  precision/recall, genre polarity accuracy, film opinion accuracy, title-linking precision/recall
  as written, with years removed, and in lower case without years (each message read alone), and as
  written with the films linked earlier in its dialogue as context (as the agent reads it);
  understanding latency p50/p95 (of the first, message-alone read);
- end to end: every measure dialogue's seeker turns replayed into ``agent.chat`` (questions answered
  "any"); Recall@1/5/10 of the films the human recommender suggested next, against a popularity
  list in the same run; standing rules created per message; "couldn't find" replies; turn latency;
- statements: in-catalog lasting preferences stored with the right polarity and scope, recommended
  items violating a compiled rule afterwards, out-of-domain statements answered as such with
  nothing stored, and lasting things stored from statements that state none.

    python benchmarks/understanding.py [--readers patterns learned] [--dialogues N] [--out DIR]

Writes ``report.md`` and ``latency.png`` to ``--out`` and prints one JSON object last.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, before this folder's memory.py

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
REQUEST = "Recommend me a movie for tonight."


@dataclass(frozen=True)
class Config:
    readers: tuple[str, ...] = ("patterns", "learned")
    redial: Path = ROOT.parent / "shared" / "data" / "redial-dev" / "utterances.jsonl"
    labels: Path = ROOT / "data" / "understanding" / "redial_labels.jsonl"
    statements: Path = ROOT / "data" / "understanding" / "statements_test.jsonl"
    dialogues: int = 0  # 0: every dialogue of the part
    part: str = "measure"  # "study" while developing; figures are reported on "measure"
    k: int = 10
    recommender: str = "itemknn"
    text_weight: float = 8.0
    popularity_weight: float = 1.0
    out: Path = ROOT / "runs" / "understanding"
    weights: Path | None = None  # the learned reader's model folder (None: the shipped one)
    seed: int = 0


def git_sha() -> str:
    try:
        return subprocess.check_output(["git", "rev-parse", "HEAD"], cwd=ROOT, text=True).strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def make_agent(reader: str, config: Config):
    from agent.api import Agent, AgentConfig
    from agent.llm import BackendConfig
    from agent.tools import RankingConfig

    return Agent.from_config(
        AgentConfig(
            ranking=RankingConfig(text_weight=config.text_weight, popularity_weight=config.popularity_weight),
            backend=BackendConfig(kind="template"),
            recommender=config.recommender,
            understanding=reader,
            understanding_path=config.weights,
            k=config.k,
            data_dir=Path(tempfile.mkdtemp(prefix=f"tastebud-understanding-{reader}-")),
        )
    )


def message_level(agent, examples, catalog, titles) -> dict:
    """Reader figures on labelled measure messages (each read alone, with its context kind)."""
    from agent.understanding.corpus import title_variants
    from agent.understanding.evaluate import PATTERN_INTENTS, Counts, lasting, stances, unknown_title_matches

    reader = agent.services.understander
    intents, genre_hits, genre_total, opinion_hits, opinion_total = 0, 0, 0, 0, 0
    last = Counts()
    links = {
        "as written": Counts(),
        "no year": Counts(),
        "lower case, no year": Counts(),
        "as written, in conversation": Counts(),
    }
    unknown = {"as written": Counts(), "no year": Counts()}  # titles outside the catalog, reported as such
    said: dict[str, list[str]] = {}  # per dialogue, the films the reader linked in its earlier messages
    times = []
    for ex in examples:
        shown = ["1"] if ex.prev == "recommended" else []
        dialog = ex.id.rsplit("-", 1)[0]
        t = time.perf_counter()
        turn = reader.read(ex.text, shown)
        times.append(time.perf_counter() - t)
        intents += PATTERN_INTENTS.get(turn.intent, turn.intent) == ex.label.intent
        last.add(["lasting"] if lasting(turn) else [], ["lasting"] if ex.label.lasting != "none" else [])
        got = stances(turn)
        for genre, sign in [(g, 1) for g in ex.label.genres_wanted] + [(g, -1) for g in ex.label.genres_unwanted]:
            genre_total += 1
            genre_hits += got.get(genre) == sign
        gold = {catalog.items[s.item].id: s.opinion for s in ex.spans if s.kind == "TITLE" and s.item is not None}
        films = {f.item_id: f.opinion for f in turn.films} or {
            i: "neutral" for i in turn.items if i != "1" or not shown
        }
        for item, opinion in gold.items():
            if item in films:
                opinion_total += 1
                opinion_hits += films[item] == opinion
        variants = {"as written": ex}
        for v in title_variants(ex):
            variants["no year" if v.source == "noyear" else "lower case, no year"] = v
        variants.setdefault("no year", ex)
        variants.setdefault("lower case, no year", ex)
        for name, v in variants.items():
            gold_v = {catalog.items[s.item].id for s in v.spans if s.kind == "TITLE" and s.item is not None}
            turn_v = turn if v is ex else reader.read(v.text, shown)
            pred = {f.item_id for f in turn_v.films} if turn_v.films or not hasattr(reader, "titles_in") else set()
            if hasattr(reader, "titles_in"):
                pred = set(reader.titles_in(v.text))
            # After a list the reader is given a placeholder list (item "1"); "that one" resolves to it,
            # which is a reference to the list, not a title link, so the placeholder is left out of both.
            links[name].add(pred - set(shown), gold_v - set(shown))
        every_bare = next((v for v in title_variants(ex, lambda s, _: True) if v.source == "noyear"), ex)
        for name, v in (("as written", ex), ("no year", every_bare)):
            turn_v = turn if v is ex else reader.read(v.text, shown)
            outside = [(s.start, s.end) for s in v.spans if s.kind == "TITLE" and s.item is None]
            unknown[name].add(*unknown_title_matches(v.text, turn_v.unknown_titles, outside))
        # As the agent reads it: with the films linked earlier in the conversation (the linker's context).
        in_context = reader.read(ex.text, shown, None, said.get(dialog, []))
        gold = {catalog.items[s.item].id for s in ex.spans if s.kind == "TITLE" and s.item is not None}
        linked = (
            set(reader.titles_in(ex.text)) if hasattr(reader, "titles_in") else {f.item_id for f in in_context.films}
        )
        links["as written, in conversation"].add(linked - set(shown), gold - set(shown))
        said[dialog] = said.get(dialog, []) + sorted(linked - set(shown))
    ms = np.asarray(times) * 1000
    return {
        "messages": len(examples),
        "intent_accuracy": intents / len(examples),
        "lasting": last.as_dict(),
        "genre_polarity_accuracy": genre_hits / max(1, genre_total),
        "genre_mentions": genre_total,
        "film_opinion_accuracy": opinion_hits / max(1, opinion_total),
        "film_opinions": opinion_total,
        "title_linking": {k: v.as_dict() for k, v in links.items()},
        "unknown_titles": {k: v.as_dict() for k, v in unknown.items()},
        "understanding_ms": {"p50": float(np.percentile(ms, 50)), "p95": float(np.percentile(ms, 95))},
    }


def replay(agent, dialogues, k: int, popular: list[str]) -> dict:
    """Seeker turns into agent.chat (questions answered "any"); Recall@1/5/10 at turns with targets."""
    hits = {1: 0, 5: 0, 10: 0}
    pop_hits = {1: 0, 5: 0, 10: 0}
    targets = messages = rules = nothing = 0
    turn_ms = []
    for n, (dialog_id, msgs) in enumerate(dialogues):
        user = f"redial-{dialog_id}"
        for m in msgs:
            messages += 1
            t = time.perf_counter()
            reply = agent.chat(user, m.text, "replay")
            turn_ms.append((time.perf_counter() - t) * 1000)
            for _ in range(3):
                if reply.action != "ask":
                    break
                reply = agent.chat(user, "any", "replay")
            rules += any(c.startswith("new rule") for c in reply.memory_changes)
            nothing += "couldn't find anything" in reply.text
            wanted = set(m.target_ids)
            if not wanted:
                continue
            targets += 1
            shown = [r.item_id for r in reply.recommendations]
            for cut in hits:
                hits[cut] += bool(wanted & set(shown[:cut]))
                pop_hits[cut] += bool(wanted & set(popular[:cut]))
        if (n + 1) % 50 == 0:
            print(f"  replayed {n + 1}/{len(dialogues)} dialogues", file=sys.stderr, flush=True)
    ms = np.asarray(turn_ms)
    return {
        "dialogues": len(dialogues),
        "messages": messages,
        "target_turns": targets,
        "recall": {f"@{c}": hits[c] / max(1, targets) for c in hits},
        "popularity_recall": {f"@{c}": pop_hits[c] / max(1, targets) for c in pop_hits},
        "ratio_at_10": (hits[10] / max(1, pop_hits[10])) if pop_hits[10] else None,
        "standing_rules_per_message": rules / max(1, messages),
        "could_not_find_per_message": nothing / max(1, messages),
        "turn_ms": {"p50": float(np.percentile(ms, 50)), "p95": float(np.percentile(ms, 95))},
    }


def statements(agent, rows, catalog) -> dict:
    """The frozen statement set, each statement to a new user, then a request in a new conversation."""
    from agent.understanding.evaluate import Stored, statement_stored

    memory = agent.memory
    titles = {it.id: it.title for it in catalog.items}
    by_kind: dict[str, list[dict]] = {}
    for n, row in enumerate(rows):
        user = f"st-{n}"
        reply = agent.chat(user, row["text"], "statement")
        feedback = memory.store.feedback(user)
        stored = Stored(
            instructions=memory.instructions(user),
            preferences=memory.preferences(user),
            liked={e.item_id for e in feedback if e.kind == "like" and e.item_id},
            disliked={e.item_id for e in feedback if e.kind == "dislike" and e.item_id},
        )
        lasting_stored = bool(stored.instructions or stored.preferences)
        after = agent.chat(user, REQUEST, "later")
        for _ in range(3):
            if after.action != "ask":
                break
            after = agent.chat(user, "any", "later")
        shown = [r.item_id for r in after.recommendations]
        allowed = set(memory.allowed(user, REQUEST, shown))
        expect = row["expect"]
        stated_violations = 0
        if expect["kind"] == "rule" and expect["in_catalog"] and expect.get("scope") is None:
            for t in expect["targets"]:
                if t["type"] == "genre" and (t.get("polarity") or expect["polarity"]) == "negative":
                    stated_violations += sum(t["value"] in r.genres for r in after.recommendations)
        by_kind.setdefault(
            expect["kind"] + ("" if expect["in_catalog"] or expect["kind"] == "out_of_domain" else "_unresolvable"), []
        ).append(
            {
                "id": row["id"],
                "stored_right": statement_stored(expect, stored, titles)
                if expect["kind"] in ("rule", "preference")
                else None,
                "lasting_stored": lasting_stored,
                "anything_stored": not stored.empty,
                "answered_out_of_domain": reply.intent == "out_of_domain",
                "compiled_violations": len(shown) - len(allowed),
                "stated_violations": stated_violations,
                "recommended": len(shown),
            }
        )
    in_cat = by_kind.get("rule", []) + by_kind.get("preference", [])
    ood = by_kind.get("out_of_domain", [])
    none = by_kind.get("none", [])
    every = [r for rs in by_kind.values() for r in rs]
    return {
        "counts": {k: len(v) for k, v in by_kind.items()},
        "in_catalog_lasting_stored_right": float(np.mean([r["stored_right"] for r in in_cat])) if in_cat else None,
        "rules_stored_right": float(np.mean([r["stored_right"] for r in by_kind.get("rule", [])]))
        if by_kind.get("rule")
        else None,
        "preferences_stored_right": float(np.mean([r["stored_right"] for r in by_kind.get("preference", [])]))
        if by_kind.get("preference")
        else None,
        "compiled_rule_violations": int(sum(r["compiled_violations"] for r in every)),
        "stated_rule_violations": int(sum(r["stated_violations"] for r in every)),
        "recommended_items": int(sum(r["recommended"] for r in every)),
        "out_of_domain_answered_and_nothing_stored": float(
            np.mean([r["answered_out_of_domain"] and not r["anything_stored"] for r in ood])
        )
        if ood
        else None,
        "none_with_lasting_stored": float(np.mean([r["lasting_stored"] for r in none])) if none else None,
        "unresolvable_lasting_stored": float(
            np.mean(
                [
                    r["lasting_stored"]
                    for r in by_kind.get("rule_unresolvable", []) + by_kind.get("preference_unresolvable", [])
                ]
            )
        )
        if by_kind.get("rule_unresolvable") or by_kind.get("preference_unresolvable")
        else None,
        "misses": [r["id"] for r in in_cat if not r["stored_right"]],
    }


def report(result: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    readers = list(result["readers"])
    lines = [
        "# Understanding: learned reader vs pattern baseline",
        "",
        f"Commit `{result['git_sha'][:10]}`, {result['machine']}; {result['config']['part']} part of redial-dev "
        f"(real seekers) and the statement set `{Path(result['config']['statements']).name}`.",
        "",
        "| figure | " + " | ".join(readers) + " |",
        "|---|" + "---|" * len(readers),
    ]

    def row(name: str, get) -> None:
        vals = []
        for r in readers:
            try:
                v = get(result["readers"][r])
            except (KeyError, TypeError):
                v = None
            vals.append("-" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v))
        lines.append(f"| {name} | " + " | ".join(vals) + " |")

    row("intent accuracy", lambda r: r["messages"]["intent_accuracy"])
    row("lasting preference precision", lambda r: r["messages"]["lasting"]["precision"])
    row("lasting preference recall", lambda r: r["messages"]["lasting"]["recall"])
    row("genre polarity accuracy", lambda r: r["messages"]["genre_polarity_accuracy"])
    row("film opinion accuracy", lambda r: r["messages"]["film_opinion_accuracy"])
    for v in ("as written", "no year", "lower case, no year", "as written, in conversation"):
        row(f"title linking precision ({v})", lambda r, v=v: r["messages"]["title_linking"][v]["precision"])
        row(f"title linking recall ({v})", lambda r, v=v: r["messages"]["title_linking"][v]["recall"])
    for v in ("as written", "no year"):
        row(
            f"titles outside the catalog said so, precision ({v})",
            lambda r, v=v: r["messages"]["unknown_titles"][v]["precision"],
        )
        row(
            f"titles outside the catalog said so, recall ({v})",
            lambda r, v=v: r["messages"]["unknown_titles"][v]["recall"],
        )
    row("understanding p50 ms", lambda r: r["messages"]["understanding_ms"]["p50"])
    row("understanding p95 ms", lambda r: r["messages"]["understanding_ms"]["p95"])
    for c in ("@1", "@5", "@10"):
        row(f"end-to-end Recall{c}", lambda r, c=c: r["replay"]["recall"][c])
        row(f"popularity Recall{c} (same run)", lambda r, c=c: r["replay"]["popularity_recall"][c])
    row("Recall@10 / popularity", lambda r: r["replay"]["ratio_at_10"])
    row("standing rules per message", lambda r: r["replay"]["standing_rules_per_message"])
    row("'couldn't find' replies per message", lambda r: r["replay"]["could_not_find_per_message"])
    row("agent turn p50 ms", lambda r: r["replay"]["turn_ms"]["p50"])
    row("statements: in-catalog lasting stored right", lambda r: r["statements"]["in_catalog_lasting_stored_right"])
    row("statements: compiled-rule violations", lambda r: r["statements"]["compiled_rule_violations"])
    row("statements: stated-rule violations", lambda r: r["statements"]["stated_rule_violations"])
    row(
        "statements: out-of-domain answered, nothing stored",
        lambda r: r["statements"]["out_of_domain_answered_and_nothing_stored"],
    )
    row("statements: 'none' with something lasting stored", lambda r: r["statements"]["none_with_lasting_stored"])
    lines += ["", "```", "python benchmarks/understanding.py " + " ".join(result["argv"]), "```", ""]
    (out / "report.md").write_text("\n".join(lines))
    timed = [r for r in readers if "messages" in result["readers"][r]]
    if not timed:  # --skip messages: no latency to plot
        return
    fig, ax = plt.subplots(figsize=(6, 3))
    for i, r in enumerate(timed):
        ms = result["readers"][r]["messages"]["understanding_ms"]
        ax.bar([i - 0.2, i + 0.2], [ms["p50"], ms["p95"]], width=0.4, color=["C0", "C1"])
    ax.set_xticks(range(len(timed)), timed)
    ax.set_ylabel("understanding ms (p50, p95)")
    fig.tight_layout()
    fig.savefig(out / "latency.png", dpi=120)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--readers", nargs="+", default=list(Config.readers), choices=["patterns", "learned", "llm"])
    p.add_argument("--dialogues", type=int, default=0, help="measure dialogues to replay (0: all)")
    p.add_argument("--out", type=Path, default=Config.out)
    p.add_argument("--text-weight", type=float, default=Config.text_weight, help="ranking: request/item text match")
    p.add_argument(
        "--popularity-weight", type=float, default=Config.popularity_weight, help="ranking: popularity prior"
    )
    p.add_argument(
        "--weights", type=Path, default=None, help="learned reader's model folder (default: the shipped model)"
    )
    p.add_argument("--part", choices=["measure", "study"], default="measure", help="study: for development only")
    p.add_argument(
        "--statements",
        type=Path,
        default=Config.statements,
        help="statement set (default: the frozen test set; data/understanding/statements_dev.jsonl to develop on)",
    )
    p.add_argument(
        "--skip", nargs="*", default=[], choices=["messages", "replay", "statements"], help="sections to skip"
    )
    p.add_argument(
        "--json", action="store_true", help="accepted for uniformity: the JSON object is always printed last"
    )
    args = p.parse_args(argv)
    config = Config(
        readers=tuple(args.readers),
        dialogues=args.dialogues,
        out=args.out,
        part=args.part,
        weights=args.weights,
        statements=args.statements,
        text_weight=args.text_weight,
        popularity_weight=args.popularity_weight,
    )
    if not config.redial.is_file():
        print(f"redial-dev not found at {config.redial}: this benchmark needs ../shared", file=sys.stderr)
        raise SystemExit(2)
    from agent.understanding.corpus import load_labels, load_redial, redial_examples
    from agent.understanding.titles import TitleIndex

    started = time.time()
    result: dict = {
        "config": {k: str(v) for k, v in asdict(config).items()},
        "git_sha": git_sha(),
        "argv": argv or sys.argv[1:],
    }
    result["machine"] = f"{platform.machine()}, {platform.python_version()}"
    messages = load_redial(config.redial)
    measure = [m for m in messages if m.part == config.part]
    dialogues: dict[str, list] = {}
    for m in sorted(measure, key=lambda m: (int(m.dialog_id), m.turn_index)):
        dialogues.setdefault(m.dialog_id, []).append(m)
    chosen = list(dialogues.items())
    if config.dialogues:
        chosen = chosen[: config.dialogues]
    rows = [json.loads(line) for line in config.statements.read_text().splitlines() if line.strip()]
    result["readers"] = {}
    for reader in config.readers:
        agent = make_agent(reader, config)
        agent.warm_up()
        catalog = agent.services.tools.catalog
        titles = TitleIndex(catalog)
        examples = redial_examples(measure, load_labels(config.labels), titles, config.part)
        if config.dialogues:
            keep = {d for d, _ in chosen}
            examples = [e for e in examples if e.id.rsplit("-", 1)[0].split("redial-valid-")[-1] in keep]
        popular = [catalog.items[i].id for i in np.argsort(-catalog.popularity, kind="stable")[: config.k]]
        print(
            f"{reader}: {len(examples)} labelled messages, {len(chosen)} dialogues, {len(rows)} statements",
            file=sys.stderr,
        )
        result["readers"][reader] = {}
        if "messages" not in args.skip:
            result["readers"][reader]["messages"] = message_level(agent, examples, catalog, titles)
        if "replay" not in args.skip:
            result["readers"][reader]["replay"] = replay(agent, chosen, config.k, popular)
        if "statements" not in args.skip:
            result["readers"][reader]["statements"] = statements(agent, rows, catalog)
        agent.close()
    result["seconds"] = round(time.time() - started, 1)
    config.out.mkdir(parents=True, exist_ok=True)
    report(result, config.out)
    print(json.dumps(result, default=str))
    return result


if __name__ == "__main__":
    main()
