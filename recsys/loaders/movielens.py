"""Official MovieLens zips (ml-100k, ml-1m, ml-20m, ml-latest-small), from a local file or a URL."""

from __future__ import annotations

import csv
import io
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

from pydantic import ValidationError

from recsys.assets import sha256_file
from recsys.catalog import Catalog
from recsys.errors import AssetError, CatalogFormatError
from recsys.loaders.common import InteractionColumns, check_unique_ids, display_title, parse_float, parse_int
from recsys.schema import Item
from recsys.settings import Settings

VARIANTS = {
    "ml-100k": "https://files.grouplens.org/datasets/movielens/ml-100k.zip",
    "ml-1m": "https://files.grouplens.org/datasets/movielens/ml-1m.zip",
    "ml-20m": "https://files.grouplens.org/datasets/movielens/ml-20m.zip",
    "ml-latest-small": "https://files.grouplens.org/datasets/movielens/ml-latest-small.zip",
}
ML100K_GENRES = (
    "unknown Action Adventure Animation Children's Comedy Crime Documentary Drama Fantasy Film-Noir Horror "
    "Musical Mystery Romance Sci-Fi Thriller War Western"
).split()
_TITLE_YEAR = re.compile(r"^(?P<title>.*?)\s*\((?P<year>\d{4})(?:[-–]\d{0,4})?\)\s*$")


def _split_title(raw: str) -> tuple[str, int | None]:
    m = _TITLE_YEAR.match(raw.strip())
    if not m:
        return display_title(raw), None
    return display_title(m["title"]), int(m["year"])


def _item(where: str, line: int, **fields: object) -> Item:
    try:
        return Item(**fields)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        raise CatalogFormatError(where, line, ".".join(map(str, err["loc"])), err["msg"]) from None


def _lines(zf: zipfile.ZipFile, member: str, encoding: str) -> list[str]:
    try:
        return zf.read(member).decode(encoding).splitlines()
    except KeyError:
        raise CatalogFormatError(f"{zf.filename}:{member}", None, None, "file missing from the zip") from None


def _find(zf: zipfile.ZipFile, name: str) -> str | None:
    return next((n for n in zf.namelist() if n.rsplit("/", 1)[-1] == name), None)


def _rows(zf: zipfile.ZipFile, member: str, sep: str, width: int, field: str) -> Iterator[tuple[str, int, list[str]]]:
    """(where, line, cells) of a delimited latin-1 file; a wrong field count fails with its line."""
    where = f"{zf.filename}:{member}"
    for no, row in enumerate(_lines(zf, member, "latin-1"), start=1):
        if not row.strip():
            continue
        cells = row.split(sep)
        if len(cells) != width:
            raise CatalogFormatError(where, no, field, f"expected {width} {sep!r}-separated fields, got {len(cells)}")
        yield where, no, cells


def _ratings(zf: zipfile.ZipFile, member: str, sep: str, items: list[Item]) -> InteractionColumns:
    """user, item, rating, timestamp rows (u.data and ratings.dat share this shape)."""
    cols = InteractionColumns(items)
    for where, no, cells in _rows(zf, member, sep, 4, "rating"):
        rating = parse_float(cells[2], where, no, "rating")
        cols.add(cells[0], cells[1], rating, parse_int(cells[3], where, no, "timestamp"), where, no)
    return cols


def _load_100k(zf: zipfile.ZipFile, u_item: str, u_data: str) -> tuple[list[Item], InteractionColumns]:
    items, lines = [], []
    for where, no, cells in _rows(zf, u_item, "|", 5 + len(ML100K_GENRES), "genres"):
        title, year = _split_title(cells[1]) if cells[1] != "unknown" else ("unknown", None)
        genres = tuple(g for g, flag in zip(ML100K_GENRES, cells[5:]) if flag.strip() == "1" and g != "unknown")
        items.append(_item(where, no, id=cells[0], title=title, year=year, genres=genres))
        lines.append(no)
    check_unique_ids(items, f"{zf.filename}:{u_item}", lines)
    return items, _ratings(zf, u_data, "\t", items)


def _load_1m(zf: zipfile.ZipFile, movies: str, ratings: str) -> tuple[list[Item], InteractionColumns]:
    items, lines = [], []
    for where, no, cells in _rows(zf, movies, "::", 3, "genres"):
        title, year = _split_title(cells[1])
        genres = tuple(g for g in cells[2].split("|") if g and g != "(no genres listed)")
        items.append(_item(where, no, id=cells[0], title=title, year=year, genres=genres))
        lines.append(no)
    check_unique_ids(items, f"{zf.filename}:{movies}", lines)
    return items, _ratings(zf, ratings, "::", items)


def _csv_rows(zf: zipfile.ZipFile, member: str, required: tuple[str, ...]) -> tuple[str, list[tuple[int, dict]]]:
    where = f"{zf.filename}:{member}"
    with zf.open(member) as raw:
        reader = csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8", newline=""))
        missing = [f for f in required if f not in (reader.fieldnames or [])]
        if missing:
            raise CatalogFormatError(where, 1, missing[0], f"header lacks required column (has {reader.fieldnames})")
        rows = []
        for row in reader:
            if None in row or any(row.get(f) is None for f in required):
                raise CatalogFormatError(where, reader.line_num, required[-1], "wrong number of columns")
            rows.append((reader.line_num, row))
    return where, rows


def _load_csv(zf: zipfile.ZipFile, movies: str, ratings: str) -> tuple[list[Item], InteractionColumns]:
    where, rows = _csv_rows(zf, movies, ("movieId", "title", "genres"))
    items, lines = [], []
    for no, row in rows:
        title, year = _split_title(row["title"])
        genres = tuple(g for g in row["genres"].split("|") if g and g != "(no genres listed)")
        items.append(_item(where, no, id=row["movieId"], title=title or row["movieId"], year=year, genres=genres))
        lines.append(no)
    check_unique_ids(items, where, lines)
    cols = InteractionColumns(items)
    where, rows = _csv_rows(zf, ratings, ("userId", "movieId", "rating", "timestamp"))
    for no, row in rows:
        rating = parse_float(row["rating"], where, no, "rating")
        ts = parse_int(row["timestamp"], where, no, "timestamp")
        cols.add(row["userId"], row["movieId"], rating, ts, where, no)
    return items, cols


def load_movielens_zip(path: str | Path) -> Catalog:
    """Load an official MovieLens zip, recognising its variant by the files inside."""
    path = Path(path)
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise CatalogFormatError(path, None, None, f"not a readable zip file ({exc})") from None
    with zf:
        if (u_item := _find(zf, "u.item")) and (u_data := _find(zf, "u.data")):
            items, cols = _load_100k(zf, u_item, u_data)
        elif (movies := _find(zf, "movies.dat")) and (ratings := _find(zf, "ratings.dat")):
            items, cols = _load_1m(zf, movies, ratings)
        elif (movies := _find(zf, "movies.csv")) and (ratings := _find(zf, "ratings.csv")):
            items, cols = _load_csv(zf, movies, ratings)
        else:
            raise CatalogFormatError(
                path, None, None, "no MovieLens files inside (u.item/u.data, movies/ratings .dat or .csv)"
            )
    return Catalog(name=path.stem, items=tuple(items), interactions=cols.build(), source=str(path))


def movielens_zip_path(variant: str, settings: Settings) -> Path:
    """The cached zip of a variant, or an error saying how to fetch it."""
    if variant not in VARIANTS:
        raise AssetError(f"unknown MovieLens variant {variant!r}; known: {', '.join(VARIANTS)}")
    path = settings.assets_dir / "movielens" / f"{variant}.zip"
    if not path.is_file():
        raise AssetError(f"{path} not found; run: tastebud assets movielens {variant} [--source FILE_OR_URL]")
    _check_recorded_sha(path)
    return path


def _check_recorded_sha(path: Path) -> None:
    recorded = path.with_suffix(".zip.sha256")
    if recorded.is_file() and sha256_file(path) != recorded.read_text().split()[0]:
        raise AssetError(f"{path} fails its sha256 check (corrupt); run: tastebud assets movielens {path.stem} --force")


def fetch_movielens(
    variant: str, settings: Settings, source: str | Path | None = None, sha256: str | None = None
) -> Path:
    """Copy or download an official MovieLens zip into the cache and record its sha256.

    Args:
        variant: One of ``VARIANTS``.
        settings: Cache location.
        source: A local zip, or a URL; defaults to the official GroupLens URL.
        sha256: Expected checksum; when given a mismatch is an error.
    """
    if variant not in VARIANTS:
        raise AssetError(f"unknown MovieLens variant {variant!r}; known: {', '.join(VARIANTS)}")
    target = settings.assets_dir / "movielens" / f"{variant}.zip"
    target.parent.mkdir(parents=True, exist_ok=True)
    src = str(source or VARIANTS[variant])
    with tempfile.NamedTemporaryFile(dir=target.parent, suffix=".part", delete=False) as tmp:
        tmp_path = Path(tmp.name)
    try:
        if src.startswith(("http://", "https://")):
            _download(src, tmp_path)
        else:
            shutil.copyfile(Path(src).expanduser(), tmp_path)
        digest = sha256_file(tmp_path)
        if sha256 and digest != sha256.lower():
            raise AssetError(f"{src}: sha256 {digest} does not match the expected {sha256}")
        load_movielens_zip(tmp_path)  # refuse to cache a file we cannot read
        tmp_path.replace(target)
        target.with_suffix(".zip.sha256").write_text(f"{digest}  {target.name}\n")
    finally:
        tmp_path.unlink(missing_ok=True)
    return target


def _download(url: str, dest: Path) -> None:
    import httpx
    from tqdm.auto import tqdm

    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=60) as resp:
            resp.raise_for_status()
            total = int(resp.headers.get("content-length", 0)) or None
            with (
                dest.open("wb") as fh,
                tqdm(total=total, unit="B", unit_scale=True, desc=url.rsplit("/", 1)[-1]) as bar,
            ):
                for chunk in resp.iter_bytes():
                    fh.write(chunk)
                    bar.update(len(chunk))
    except httpx.HTTPError as exc:
        raise AssetError(
            f"could not download {url} ({exc}); download it yourself and run: "
            f"tastebud assets movielens VARIANT --source PATH"
        ) from None
