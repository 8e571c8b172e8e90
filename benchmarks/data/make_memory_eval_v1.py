"""Generate the memory evaluation set v1 (benchmarks/data/memory_eval_v1.jsonl) from templates over ML-100K.

Run:  python benchmarks/data/make_memory_eval_v1.py            (deterministic: fixed seed)

Three tasks:
- ``extract``: one utterance -> gold standing instructions (scope + atoms), or none for one-off
  requests and chit-chat; the dev records for ordinary requests also give the one-off
  ``request_atoms``. Hard cases are tagged: negation, lift, soft, scope, paraphrase,
  partial_name, ambiguous_name, unknown_entity, title, role, decade, one_off, multi.
- ``select``: a profile of instructions (stated one by one) and a request -> the indices of the
  instructions that apply. Global rules always apply; a scoped rule applies when the request is
  in its situation (and not when the request says the situation is absent).
- ``conflict``: a sequence of utterances -> the atoms that must be live at the end.

Each template carries a split: ``dev`` templates may be looked at while building the extractor,
``test`` templates are held out (different sentence frames and vocabulary). Gold labels come from
the template, never from the extractor. People are real credits (memory_eval_people_v1.json)
attached to ML-100K titles as named KG entities.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from memory.overlay import person_id, with_people  # noqa: E402
from recsys.catalog import Catalog  # noqa: E402
from recsys.datasets import load_catalog  # noqa: E402

VERSION = "v1"
SEED = 20240501
OUT = HERE / f"memory_eval_{VERSION}.jsonl"
PEOPLE_FILE = HERE / f"memory_eval_people_{VERSION}.json"

# ---- vocabulary (what users say) -------------------------------------------------------------
# genre -> (dev surface forms, test surface forms); plural noun phrases that fit "no {g}".
GENRES: dict[str, tuple[list[str], list[str]]] = {
    "Horror": (["horror movies", "scary movies", "horror"], ["slasher flicks", "horror films", "anything scary"]),
    "Western": (["westerns"], ["cowboy movies"]),
    "Musical": (["musicals"], ["song-and-dance films"]),
    "Documentary": (["documentaries"], ["docs"]),
    "War": (["war movies"], ["war films"]),
    "Sci-Fi": (["sci-fi", "science fiction"], ["sci-fi movies"]),
    "Animation": (["animated films", "cartoons"], ["animation"]),
    "Children's": (["kids' movies", "family films"], ["kid-friendly films", "children's films"]),
    "Comedy": (["comedies"], ["funny movies", "comedy"]),
    "Crime": (["crime films"], ["gangster movies"]),
    "Drama": (["dramas"], ["tearjerkers"]),
    "Thriller": (["thrillers"], ["suspense films"]),
    "Mystery": (["mysteries"], ["whodunits"]),
    "Film-Noir": (["film noir"], ["noir"]),
    "Fantasy": (["fantasy films"], ["fantasy"]),
    "Action": (["action movies"], ["action flicks"]),
    "Romance": (["romantic movies"], ["love stories"]),
    "Adventure": (["adventure films"], ["adventure movies"]),
}
DECADE_WORDS = {1950: "fifties", 1960: "sixties", 1970: "seventies", 1980: "eighties", 1990: "nineties"}
UNKNOWN_PEOPLE = [
    "Zorblax Quint",
    "Marla Vennholt",
    "Dexter Plumtree",
    "Ingrid Falkenrath",
    "Meryl Streep",
    "Denzel Washington",
]
AMBIGUOUS = {
    "Allen": ("Woody Allen", "Tim Allen"),
    "Scott": ("Ridley Scott", "Tony Scott"),
    "Tom": ("Tom Cruise", "Tom Hanks"),
}

# ---- templates: (split, text) ------------------------------------------------------------------
EXCLUDE = [
    ("dev", "Never recommend {g}."),
    ("dev", "Please don't ever suggest {g} to me."),
    ("dev", "No {g}, ever."),
    ("dev", "I can't stand {g}, so keep them out of my recommendations."),
    ("dev", "From now on, no {g}."),
    ("dev", "Stop recommending {g}."),
    ("dev", "Keep {g} away from me."),
    ("test", "I hate {g}."),
    ("test", "I don't want to see any {g} in my suggestions."),
    ("test", "Please remember: no {g}."),
    ("test", "Don't show me {g} anymore."),
    ("test", "I'm done with {g}, skip them."),
    ("test", "Avoid {g} in everything you suggest."),
    ("test", "{G} are off-limits for me."),
]
SOFT_AVOID = [
    ("dev", "I'm not a big fan of {g}."),
    ("dev", "I don't really like {g}."),
    ("test", "I'm not really into {g}."),
    ("test", "Honestly, {g} aren't my thing."),
]
PREFER = [
    ("dev", "I love {g}."),
    ("dev", "I'm a huge fan of {g}."),
    ("test", "I really enjoy {g}."),
    ("test", "{G} are my favorite."),
]
ONLY = [
    ("dev", "Only recommend {g} or {g2}."),
    ("dev", "Stick to {g} and {g2} from now on."),
    ("test", "I only watch {g} or {g2}."),
    ("test", "Nothing but {g} or {g2}, please, always."),
]
LIFT = [
    ("dev", "Actually, {g} are fine now."),
    ("dev", "I don't mind {g} anymore."),
    ("dev", "You can recommend {g} again."),
    ("test", "I've changed my mind, {g} are okay."),
    ("test", "I no longer hate {g}."),
    ("test", "Feel free to suggest {g} again."),
]
YEAR_MIN = [  # -> year_min {y}
    ("dev", "Nothing older than {y}."),
    ("dev", "Don't recommend anything made before {y}."),
    ("dev", "Only films from {y} or later."),
    ("test", "I don't watch anything released before {y}."),
    ("test", "Please, no movies from before {y}."),
    ("test", "Only suggest stuff from {y} onwards."),
]
DECADE_MIN = [  # -> year_min {d}
    ("dev", "Nothing from before the {ds}."),
    ("test", "Nothing older than the {dw}."),
]
DECADE_OR_EARLIER = [  # -> year_min {d}+10
    ("dev", "Nothing from the {ds} or earlier."),
    ("test", "No movies from the {dw} or before."),
]
YEAR_MAX = [  # -> year_max {y}
    ("dev", "Nothing newer than {y}."),
    ("test", "Don't recommend anything made after {y}."),
]
DECADE_ONLY = [  # -> year_min d, year_max d+9
    ("dev", "I only watch {ds} movies."),
    ("test", "Only films from the {dw}, please."),
]
DECADE_EXCLUDE = [  # -> exclude_years d-(d+9)
    ("dev", "No films from the {ds}."),
    ("test", "Skip anything from the {dw}."),
]
PERSON_EXCLUDE = [  # {p}: how the person is named
    ("dev", "I don't want anything with {p}."),
    ("dev", "Never recommend {p} movies."),
    ("dev", "Keep {p} away from me."),
    ("test", "Nothing starring {p}, please, ever."),
    ("test", "I can't stand {p}."),
    ("test", "No films featuring {p}."),
]
PERSON_PREFER = [("dev", "I love {p}."), ("test", "I'm a big fan of {p}.")]
PERSON_LIFT = [("dev", "I don't mind {p} anymore."), ("test", "{p} is fine now.")]
TITLE_EXCLUDE = [
    ("dev", "Never recommend {t} again."),
    ("dev", "I've already seen {t}."),
    ("test", "Don't suggest {t}, I hated it."),
    ("test", "Please stop showing me {t}."),
]
TITLE_LIFT = [("dev", "You can recommend {t} again."), ("test", "{t} is fine again.")]
ROLE = [("dev", "No films by the director of {t}."), ("test", "Never recommend anything from whoever directed {t}.")]
SOFT_TEXT = [  # standing, but nothing compiles
    ("dev", "I prefer shorter films."),
    ("dev", "I always like films with a happy ending."),
    ("dev", "Please always keep your recommendations short."),
    ("test", "In general I like movies based on true stories."),
    ("test", "I never watch dubbed movies."),
    ("test", "I love films with strong female leads."),
]
ONE_OFF = [  # not standing instructions (some contain constraint words)
    ("dev", "Can you recommend {a_g} for tonight?"),
    ("dev", "I'm in the mood for {g}."),
    ("dev", "No {g} tonight please, something light."),
    ("dev", "What should I watch right now?"),
    ("dev", "Any good {g} you'd suggest?"),
    ("dev", "Show me some {g}."),
    ("test", "Nothing too old this time, maybe {g}?"),
    ("test", "Recommend me something like {t}."),
    ("test", "Could you find me {a_g}?"),
    ("test", "Got any {g} for this evening?"),
    ("test", "I feel like watching {g} today."),
    ("test", "Help me pick something for tonight."),
]
CHITCHAT = [
    ("dev", "Thanks, that's great!"),
    ("dev", "I loved that one."),
    ("dev", "Hello there"),
    ("test", "Haha, nice pick"),
    ("test", "Ok cool, thank you"),
    ("test", "I watched it yesterday, it was fine."),
]

# Ordinary requests and feedback, dev only (fixed texts, no RNG, appended after every other record so the
# rest of the set is unchanged): (text, gold standing instructions, gold request atoms, tags). Titles are
# resolved by name when the records are built.
REQUEST_READING: list[tuple[str, list[dict], list[list[str]], list[str]]] = [
    (
        "No comedies tonight, something from the 80s.",
        [],
        [["exclude", "genre", "Comedy"], ["year_min", "year", "1980"], ["year_max", "year", "1989"]],
        ["one_off", "clause", "negation"],
    ),
    (
        "Action but not horror.",
        [],
        [["only", "genre", "Action"], ["exclude", "genre", "Horror"]],
        ["one_off", "clause"],
    ),
    ("The 1990s.", [], [["year_min", "year", "1990"], ["year_max", "year", "1999"]], ["one_off", "bare"]),
    ("Comedy please.", [], [["only", "genre", "Comedy"]], ["one_off", "request_genre"]),
    (
        "A comedy or a romance.",
        [],
        [["only", "genre", "Comedy"], ["only", "genre", "Romance"]],
        ["one_off", "request_genre"],
    ),
    (
        "Something funny from the 90s.",
        [],
        [["only", "genre", "Comedy"], ["year_min", "year", "1990"], ["year_max", "year", "1999"]],
        ["one_off", "request_genre"],
    ),
    ("I loved Star Wars.", [], [], ["feedback", "title"]),
    ("I hated Heat.", [], [], ["feedback", "title"]),
    ("Never show me Heat again.", [{"scope": None, "atoms": [["exclude", "item", "{Heat}"]]}], [], ["title"]),
    ("Forget that I said no horror.", [{"scope": None, "atoms": [["allow", "genre", "Horror"]]}], [], ["lift"]),
    ("I hate musicals.", [{"scope": None, "atoms": [["exclude", "genre", "Musical"]]}], [], ["genre"]),
    ("From now on nothing before 1980.", [{"scope": None, "atoms": [["year_min", "year", "1980"]]}], [], ["year"]),
    (
        "When I watch with my kids, only animation or family films.",
        [{"scope": "kids", "atoms": [["only", "genre", "Animation"], ["only", "genre", "Children's"]]}],
        [],
        ["scope", "kids", "only"],
    ),
]

# Scopes: key -> [(split, leading phrase)]; leading phrases read "<phrase>, <rule>".
SCOPES: dict[str, list[tuple[str, str]]] = {
    "kids": [
        ("dev", "When I watch with my kids"),
        ("dev", "When my kids are around"),
        ("test", "If I'm watching with my children"),
        ("test", "When my daughter is watching"),
    ],
    "partner": [("dev", "When I'm watching with my wife"), ("test", "When my boyfriend is over")],
    "friends": [("dev", "When my friends are over"), ("test", "For movie night with my buddies")],
    "parents": [("dev", "When my parents are visiting"), ("test", "When I watch with my mom")],
    "alone": [("dev", "When I'm alone"), ("test", "When I watch by myself")],
    "late": [("dev", "Late at night"), ("test", "Before bed")],
    "weekend": [("dev", "On weekends"), ("test", "On Sunday afternoons")],
    "down": [("dev", "When I'm feeling down"), ("test", "When I've had a bad day")],
    "travel": [("dev", "On flights"), ("test", "When I'm on a plane")],
    "holiday": [("dev", "At Christmas"), ("test", "During the holidays")],
}
GENRE_SCOPE = [("dev", "When I ask for {g}"), ("test", "Whenever I want {g}")]
# Scoped rules: (split, rule text, kind) ; kind tells how to build the gold atoms.
SCOPED_RULES = [
    ("dev", "only {g} or {g2}", "only2"),
    ("dev", "no {g}", "exclude"),
    ("dev", "nothing older than {y}", "year_min"),
    ("test", "{g} are fine", "allow"),
    ("test", "skip {g}", "exclude"),
    ("test", "only {g}", "only1"),
]
TRAILING_SCOPES = {  # rule + trailing condition
    "kids": [("dev", "when my kids are around"), ("test", "whenever my son is watching")],
    "partner": [("dev", "when I'm with my girlfriend"), ("test", "when my husband is watching")],
    "friends": [("dev", "when my friends are over"), ("test", "when the guys come over")],
}

# Requests: (split, text, situation keys).
REQUESTS: list[tuple[str, str, list[str]]] = [
    ("dev", "What can I watch with my kids tonight?", ["kids"]),
    ("dev", "Something to watch with my son this afternoon?", ["kids"]),
    ("dev", "My children are here, what do you recommend?", ["kids"]),
    ("test", "Need a film for the little ones.", ["kids"]),
    ("test", "Movie ideas for me and my daughter?", ["kids"]),
    ("test", "Babysitting my nephew tonight, any ideas?", ["kids"]),
    ("dev", "Date night with my wife, any ideas?", ["partner"]),
    ("dev", "Recommend something for date night.", ["partner"]),
    ("test", "What should my girlfriend and I watch tonight?", ["partner"]),
    ("test", "Something to watch with my husband?", ["partner"]),
    ("dev", "My friends are coming over tonight, what should we watch?", ["friends"]),
    ("dev", "Movie night with the guys, ideas?", ["friends"]),
    ("test", "Something fun to watch with my buddies?", ["friends"]),
    ("dev", "My parents are visiting, what can we all watch?", ["parents"]),
    ("test", "Watching with my mom later, suggestions?", ["parents"]),
    ("dev", "I'm home alone tonight, what's good?", ["alone"]),
    ("test", "Just me tonight, what should I watch?", ["alone"]),
    ("dev", "It's late at night and I can't sleep, suggestions?", ["late"]),
    ("test", "Something to watch before bed?", ["late"]),
    ("dev", "Lazy Sunday, what should I watch?", ["weekend"]),
    ("test", "Any ideas for this weekend?", ["weekend"]),
    ("dev", "I'm feeling down, recommend something.", ["down"]),
    ("test", "I had a rough day, what should I watch?", ["down"]),
    ("dev", "I have a long flight tomorrow, what should I download?", ["travel"]),
    ("test", "What's good to watch on a plane?", ["travel"]),
    ("dev", "What should we watch on Christmas Eve?", ["holiday"]),
    ("test", "Any films for the holidays?", ["holiday"]),
    # the situation is explicitly absent
    ("dev", "The kids are asleep, what should I watch?", []),
    ("dev", "Finally a night without the kids, suggestions?", []),
    ("test", "My kids are at their grandma's, what can I watch?", []),
    ("test", "My wife is away this week, recommend something.", []),
    # no situation
    ("dev", "Recommend a good film.", []),
    ("dev", "What should I watch tonight?", []),
    ("dev", "Any suggestions?", []),
    ("test", "I'm bored, pick something for me.", []),
    ("test", "Surprise me with something good.", []),
    ("test", "What's a good movie to watch?", []),
]
GENRE_REQUESTS = [  # (split, text with {g} or {a_g}) -> situation genre:<G>
    ("dev", "Recommend {a_g}."),
    ("dev", "Any good {g}?"),
    ("test", "I want to watch {a_g} tonight."),
    ("test", "Can you suggest some {g}?"),
]
SINGULAR = {
    "Horror": "horror movie",
    "Western": "western",
    "Musical": "musical",
    "Documentary": "documentary",
    "War": "war movie",
    "Sci-Fi": "sci-fi film",
    "Animation": "animated film",
    "Children's": "family film",
    "Comedy": "comedy",
    "Crime": "crime film",
    "Drama": "drama",
    "Thriller": "thriller",
    "Mystery": "mystery",
    "Film-Noir": "film noir",
    "Fantasy": "fantasy film",
    "Action": "action movie",
    "Romance": "romantic movie",
    "Adventure": "adventure film",
}


def a_(phrase: str) -> str:
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


class Generator:
    """Builds records with one seeded RNG."""

    def __init__(self, catalog: Catalog, people: dict[str, tuple[str, list[str]]], seed: int) -> None:
        self.catalog = catalog
        self.people = people
        self.rng = random.Random(seed)
        self.records: list[dict] = []
        by_title: dict[str, list[str]] = {}
        for item in catalog.items:
            by_title.setdefault(item.title, []).append(item.id)
        order = sorted(range(len(catalog.items)), key=lambda i: -int(catalog.popularity[i]))
        self.titles = [catalog.items[i].title for i in order[:250] if len(by_title[catalog.items[i].title]) == 1]
        self.by_title = by_title

    # helpers ------------------------------------------------------------------------------
    def genre(self, split: str, exclude: tuple[str, ...] = ()) -> tuple[str, str]:
        g = self.rng.choice([x for x in GENRES if x not in exclude])
        words = GENRES[g][0 if split == "dev" else 1] or GENRES[g][0]
        return g, self.rng.choice(words)

    def add(self, task: str, split: str, tags: list[str], **fields: object) -> None:
        self.records.append(
            {"id": f"{task}-{len(self.records):04d}", "task": task, "split": split, "tags": tags, **fields}
        )

    def extract(self, split: str, tags: list[str], text: str, instructions: list[dict]) -> None:
        self.add("extract", split, tags, text=text, gold={"instructions": instructions})

    @staticmethod
    def ins(scope: str | None, atoms: list[list[str]]) -> dict:
        return {"scope": scope, "atoms": atoms}

    def fill(self, template: str, **kw: str) -> str:
        text = template.format(**kw)
        return text[0].upper() + text[1:]

    # extraction records ---------------------------------------------------------------------
    def genre_rules(self) -> None:
        for templates, op, tag in [
            (EXCLUDE, "exclude", ["paraphrase"]),
            (SOFT_AVOID, "avoid", ["soft", "negation"]),
            (PREFER, "prefer", ["soft"]),
            (LIFT, "allow", ["lift", "negation"]),
        ]:
            for split, t in templates:
                for _ in range(4 if op == "exclude" else 5):
                    g, w = self.genre(split)
                    text = self.fill(t, g=w, G=w[0].upper() + w[1:])
                    self.extract(split, ["genre", *tag], text, [self.ins(None, [[op, "genre", g]])])
        for split, t in ONLY:
            for _ in range(5):
                g, w = self.genre(split)
                g2, w2 = self.genre(split, exclude=(g,))
                text = self.fill(t, g=w, g2=w2)
                self.extract(
                    split, ["genre", "only"], text, [self.ins(None, [["only", "genre", g], ["only", "genre", g2]])]
                )

    def year_rules(self) -> None:
        for split, t in YEAR_MIN:
            for _ in range(4):
                y = self.rng.randrange(1950, 1996)
                self.extract(split, ["year"], self.fill(t, y=str(y)), [self.ins(None, [["year_min", "year", str(y)]])])
        for split, t in YEAR_MAX:
            for _ in range(4):
                y = self.rng.randrange(1960, 1996)
                self.extract(split, ["year"], self.fill(t, y=str(y)), [self.ins(None, [["year_max", "year", str(y)]])])
        for templates, kind in [
            (DECADE_MIN, "min"),
            (DECADE_OR_EARLIER, "or_earlier"),
            (DECADE_ONLY, "only"),
            (DECADE_EXCLUDE, "exclude"),
        ]:
            for split, t in templates:
                for _ in range(4):
                    d = self.rng.choice([1950, 1960, 1970, 1980])
                    ds = self.rng.choice([f"{d % 100}s", f"{d}s", f"'{d % 100}s"])
                    text = self.fill(t, ds=ds, dw=DECADE_WORDS[d])
                    atoms = {
                        "min": [["year_min", "year", str(d)]],
                        "or_earlier": [["year_min", "year", str(d + 10)]],
                        "only": [["year_min", "year", str(d)], ["year_max", "year", str(d + 9)]],
                        "exclude": [["exclude_years", "year", f"{d}-{d + 9}"]],
                    }[kind]
                    self.extract(split, ["year", "decade"], text, [self.ins(None, atoms)])

    def person_forms(self, name: str) -> list[tuple[str, list[str]]]:
        parts = name.split()
        forms = [(name, ["person"]), (parts[-1] if parts[-2] != "De" else "De Niro", ["person", "partial_name"])]
        if name.casefold() == name:
            return forms
        forms.append((name.lower(), ["person", "lowercase"]))
        return forms

    def people_rules(self) -> None:
        names = sorted(self.people)
        ambiguous_last = {"Allen", "Scott"}
        for templates, op, tag in [
            (PERSON_EXCLUDE, "exclude", []),
            (PERSON_PREFER, "prefer", ["soft"]),
            (PERSON_LIFT, "allow", ["lift"]),
        ]:
            for split, t in templates:
                for _ in range(5 if op == "exclude" else 3):
                    name = self.rng.choice(names)
                    form, ftags = self.rng.choice(self.person_forms(name))
                    if form in ambiguous_last or form.lower() in {a.lower() for a in ambiguous_last}:
                        form, ftags = name, ["person"]
                    text = t.format(p=form)
                    text = text[0].upper() + text[1:]
                    if ftags == ["person", "lowercase"]:
                        text = text.lower()
                    self.extract(split, [*ftags, *tag], text, [self.ins(None, [[op, "entity", person_id(name)]])])
        for i, (short, _) in enumerate(AMBIGUOUS.items()):
            for split, t in PERSON_EXCLUDE[:2] + PERSON_EXCLUDE[3:5]:
                if (i + len(t)) % 2:
                    continue
                self.extract(
                    split,
                    ["person", "ambiguous_name"],
                    t.format(p=short),
                    [self.ins(None, [["exclude", "unknown", short.casefold()]])],
                )
        for j, who in enumerate(UNKNOWN_PEOPLE):
            split, t = PERSON_EXCLUDE[j % len(PERSON_EXCLUDE)]
            self.extract(
                split,
                ["person", "unknown_entity"],
                t.format(p=who),
                [self.ins(None, [["exclude", "unknown", who.casefold()]])],
            )

    def title_rules(self) -> None:
        for templates, op in [(TITLE_EXCLUDE, "exclude"), (TITLE_LIFT, "allow")]:
            for split, t in templates:
                for _ in range(5 if op == "exclude" else 3):
                    title = self.rng.choice(self.titles)
                    item = self.by_title[title][0]
                    self.extract(split, ["title"], self.fill(t, t=title), [self.ins(None, [[op, "item", item]])])
        kg = self.catalog.kg
        assert kg is not None
        with_director = [t for t in self.titles if kg.entities_of(self.by_title[t][0], "director")]
        for split, t in ROLE:
            for _ in range(4):
                title = self.rng.choice(with_director)
                ents = sorted({e for _, e in kg.entities_of(self.by_title[title][0], "director")})
                self.extract(
                    split,
                    ["role", "title"],
                    self.fill(t, t=title),
                    [self.ins(None, [["exclude", "entity", e] for e in ents])],
                )

    def soft_text(self) -> None:
        for split, t in SOFT_TEXT:
            self.extract(split, ["soft", "uncompiled"], t, [self.ins(None, [])])

    def scoped_rules(self) -> None:
        for key, phrases in SCOPES.items():
            for split, phrase in phrases:
                for rsplit, rule, kind in SCOPED_RULES:
                    if rsplit != split and self.rng.random() < 0.5:
                        continue
                    text, atoms = self.rule(rule, kind, split)
                    self.extract(split, ["scope", key], f"{phrase}, {text}.", [self.ins(key, atoms)])
        for key, phrases in TRAILING_SCOPES.items():
            for split, phrase in phrases:
                for rsplit, rule, kind in SCOPED_RULES[:3]:
                    text, atoms = self.rule(rule, kind, split)
                    self.extract(
                        split, ["scope", "trailing", key], self.fill(f"{text} {phrase}."), [self.ins(key, atoms)]
                    )
        for split, phrase in GENRE_SCOPE:
            for _ in range(4):
                g, w = self.genre(split)
                y = self.rng.randrange(1960, 1995)
                text = self.fill(f"{phrase}, nothing older than {y}.", g=w)
                self.extract(
                    split, ["scope", "genre_scope"], text, [self.ins(f"genre:{g}", [["year_min", "year", str(y)]])]
                )

    def rule(self, rule: str, kind: str, split: str) -> tuple[str, list[list[str]]]:
        g, w = self.genre(split)
        g2, w2 = self.genre(split, exclude=(g,))
        y = self.rng.randrange(1960, 1995)
        text = rule.format(g=w, g2=w2, y=y)
        atoms = {
            "only2": [["only", "genre", g], ["only", "genre", g2]],
            "only1": [["only", "genre", g]],
            "exclude": [["exclude", "genre", g]],
            "allow": [["allow", "genre", g]],
            "year_min": [["year_min", "year", str(y)]],
        }[kind]
        return text, atoms

    def multi(self) -> None:
        for split in ("dev", "test", "dev", "test", "dev", "test"):
            g, w = self.genre(split)
            y = self.rng.randrange(1960, 1995)
            text = self.fill(f"Never recommend {w}. And nothing older than {y}, please.")
            self.extract(
                split,
                ["multi"],
                text,
                [self.ins(None, [["exclude", "genre", g]]), self.ins(None, [["year_min", "year", str(y)]])],
            )

    def negatives(self) -> None:
        for split, t in ONE_OFF:
            for _ in range(3):
                g = self.rng.choice(list(GENRES))
                w = self.rng.choice(GENRES[g][0 if split == "dev" else 1])
                text = self.fill(t, g=w, a_g=a_(SINGULAR[g]), t=self.rng.choice(self.titles))
                self.extract(split, ["one_off"], text, [])
        for split, t in CHITCHAT:
            self.extract(split, ["chitchat"], t, [])
        for split, text, _ in REQUESTS:
            self.extract(split, ["one_off", "request"], text, [])

    def request_reading(self) -> None:
        """Dev records for reading ordinary requests: clause scope of negation, one-off vs standing, feedback."""

        def title_ids(atoms: list[list[str]]) -> list[list[str]]:
            return [[op, f, self.by_title[v[1:-1]][0] if v.startswith("{") else v] for op, f, v in atoms]

        for text, instructions, request_atoms, tags in REQUEST_READING:
            gold = [self.ins(i["scope"], title_ids(i["atoms"])) for i in instructions]
            self.add(
                "extract",
                "dev",
                tags,
                text=text,
                gold={"instructions": gold, "request_atoms": title_ids(request_atoms)},
            )

    # selection records -------------------------------------------------------------------------
    def selection(self, n: int) -> None:
        for i in range(n):
            split = "dev" if i % 2 == 0 else "test"
            # profile: 1-3 global rules + 1-3 scoped rules with distinct scope keys
            profile: list[dict] = []
            used_genres: set[str] = set()
            for _ in range(self.rng.randint(1, 3)):
                s, t = self.rng.choice([x for x in EXCLUDE if x[0] == split])
                g, w = self.genre(split, exclude=tuple(used_genres))
                used_genres.add(g)
                profile.append({"text": self.fill(t, g=w, G=w[0].upper() + w[1:]), "scope": None})
            keys = self.rng.sample(sorted(SCOPES), self.rng.randint(1, 3))
            for key in keys:
                s, phrase = self.rng.choice([p for p in SCOPES[key] if p[0] == split] or SCOPES[key])
                g, w = self.genre(split, exclude=tuple(used_genres))
                g2, w2 = self.genre(split, exclude=tuple(used_genres | {g}))
                used_genres |= {g, g2}
                profile.append({"text": f"{phrase}, only {w} or {w2}.", "scope": key})
            genre_scoped = None
            if self.rng.random() < 0.3:
                g, w = self.genre(split, exclude=tuple(used_genres))
                genre_scoped = g
                s, phrase = self.rng.choice([p for p in GENRE_SCOPE if p[0] == split])
                profile.append({"text": self.fill(f"{phrase}, nothing older than 1980.", g=w), "scope": f"genre:{g}"})
            # request: in one of the profile's situations, an absent one, a genre, or none
            r = self.rng.random()
            pool = [q for q in REQUESTS if q[0] == split]
            if genre_scoped and r < 0.35:
                s, t = self.rng.choice([x for x in GENRE_REQUESTS if x[0] == split])
                w = self.rng.choice(GENRES[genre_scoped][0])
                request, situation = self.fill(t, g=w, a_g=a_(SINGULAR[genre_scoped])), [f"genre:{genre_scoped}"]
            elif r < 0.6:
                matching = [q for q in pool if set(q[2]) & set(keys)] or [q for q in REQUESTS if set(q[2]) & set(keys)]
                _, request, situation = self.rng.choice(matching)
            else:
                _, request, situation = self.rng.choice(pool)
            gold = [j for j, p in enumerate(profile) if p["scope"] is None or p["scope"] in situation]
            self.add(
                "select",
                split,
                ["situation" if situation else "no_situation"],
                profile=[p["text"] for p in profile],
                request=request,
                gold_applicable=gold,
            )

    # conflict records -----------------------------------------------------------------------------
    def conflicts(self, n: int) -> None:
        names = sorted(self.people)
        kinds = [
            "lift",
            "year_update",
            "narrow",
            "only_replace",
            "scoped_vs_global",
            "prefer_then_exclude",
            "person_lift",
            "title_lift",
            "year_lift",
            "duplicate",
            "unrelated",
            "self_contradiction",
        ]
        for i in range(n):
            split = "dev" if i % 2 == 0 else "test"
            kind = kinds[i % len(kinds)]
            g, w = self.genre(split)
            g2, w2 = self.genre(split, exclude=(g,))
            g3, w3 = self.genre(split, exclude=(g, g2))
            y1, y2 = self.rng.sample(range(1950, 1996), 2)
            ex = self.rng.choice([t for s, t in EXCLUDE if s == split])
            lift = self.rng.choice([t for s, t in LIFT if s == split])
            scope = self.rng.choice(SCOPES["kids"])[1]
            if kind == "lift":
                seq, live = [self.fill(ex, g=w, G=w.title()), self.fill(lift, g=w)], [[None, "allow", "genre", g]]
            elif kind == "year_update":
                seq = [f"Nothing older than {y1}.", f"Actually, make that nothing older than {y2}."]
                live = [[None, "year_min", "year", str(y2)]]
            elif kind == "narrow":
                seq = [f"No {w} or {w2}.", self.fill(lift, g=w)]
                live = [[None, "exclude", "genre", g2], [None, "allow", "genre", g]]
            elif kind == "only_replace":
                seq = [f"{scope}, only {w} or {w2}.", f"{scope}, only {w3}."]
                live = [["kids", "only", "genre", g3]]
            elif kind == "scoped_vs_global":
                seq = [self.fill(ex, g=w, G=w.title()), f"When my friends are over, {w} are fine."]
                live = [[None, "exclude", "genre", g], ["friends", "allow", "genre", g]]
            elif kind == "prefer_then_exclude":
                seq = [f"I love {w}.", self.fill(ex, g=w, G=w.title())]
                live = [[None, "exclude", "genre", g]]
            elif kind == "person_lift":
                name = self.rng.choice(names)
                seq = [f"I don't want anything with {name}.", f"I don't mind {name} anymore."]
                live = [[None, "allow", "entity", person_id(name)]]
            elif kind == "title_lift":
                title = self.rng.choice(self.titles)
                seq = [f"Never recommend {title} again.", f"You can recommend {title} again."]
                live = [[None, "allow", "item", self.by_title[title][0]]]
            elif kind == "year_lift":
                seq = [f"Nothing older than {y1}.", "Old movies are fine now."]
                live = [[None, "allow", "year", "min"]]
            elif kind == "duplicate":
                seq = [self.fill(ex, g=w, G=w.title()), f"Never recommend {w}!"]
                live = [[None, "exclude", "genre", g]]
            elif kind == "unrelated":
                seq = [f"No {w}.", f"Nothing older than {y1}.", f"No {w2} either, ever."]
                live = [
                    [None, "exclude", "genre", g],
                    [None, "year_min", "year", str(y1)],
                    [None, "exclude", "genre", g2],
                ]
            else:
                seq = [f"Nothing older than {y1}.", f"Never recommend {w}. Always recommend {w}."]
                live = [[None, "year_min", "year", str(y1)]]
            self.add("conflict", split, [kind], sequence=seq, gold_live=live)


def main() -> None:
    """Write the evaluation set."""
    people_raw = json.loads(PEOPLE_FILE.read_text())["people"]
    base = load_catalog("ml-100k")
    titles = {it.title for it in base.items}
    people = {n: (r, [t for t in ts if t in titles]) for n, (r, ts) in people_raw.items()}
    people = {n: v for n, v in people.items() if v[1]}
    catalog = with_people(base, people)
    gen = Generator(catalog, people, SEED)
    gen.genre_rules()
    gen.year_rules()
    gen.people_rules()
    gen.title_rules()
    gen.soft_text()
    gen.scoped_rules()
    gen.multi()
    gen.negatives()
    gen.selection(160)
    gen.conflicts(120)
    gen.request_reading()
    tasks: dict[str, int] = {}
    utterances = 0
    for r in gen.records:
        tasks[r["task"]] = tasks.get(r["task"], 0) + 1
        utterances += {"extract": 1, "select": len(r.get("profile", [])) + 1, "conflict": len(r.get("sequence", []))}[
            r["task"]
        ]
    meta = {
        "task": "meta",
        "version": VERSION,
        "seed": SEED,
        "catalog": "ml-100k",
        "people_file": PEOPLE_FILE.name,
        "records": tasks,
        "utterances": utterances,
        "generator": "benchmarks/data/make_memory_eval_v1.py",
    }
    with OUT.open("w") as f:
        f.write(json.dumps(meta) + "\n")
        for r in gen.records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(json.dumps(meta))


if __name__ == "__main__":
    main()
