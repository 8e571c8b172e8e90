"""Every loader on valid files, and every malformed case failing with file, line and field."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from recsys.datasets import load_catalog
from recsys.errors import AssetError, CatalogFormatError
from recsys.loaders.atomic import load_atomic_dataset
from recsys.loaders.generic import load_generic
from recsys.loaders.movielens import fetch_movielens, load_movielens_zip, movielens_zip_path
from recsys.settings import Settings

ITEMS = [
    {"id": "a", "title": "Alpha", "year": 1999, "genres": ["Drama"], "entities": ["e:a"]},
    {
        "id": "b",
        "title": "Beta",
        "year": 2005,
        "genres": ["Horror", "Comedy"],
        "description": "spooky",
        "entities": ["e:b"],
    },
    {"id": "c", "title": "Gamma", "attributes": {"runtime": 120}},
]


def write_generic(
    folder: Path,
    items=ITEMS,
    interactions="user,item,rating,timestamp\nu1,a,5,10\nu1,b,3,20\nu2,c,4,5\n",
    kg="head\trelation\ttail\ne:a\tstarring\tp:tom\ne:b\tstarring\tp:tom\n",
    entities="p:tom\tTom Cruise\n",
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "items.jsonl").write_text("\n".join(json.dumps(i) if isinstance(i, dict) else i for i in items) + "\n")
    if interactions is not None:
        (folder / "interactions.csv").write_text(interactions)
    if kg is not None:
        (folder / "kg.tsv").write_text(kg)
    if entities is not None:
        (folder / "entities.tsv").write_text(entities)
    return folder


def test_generic_catalog_loads(tmp_path: Path) -> None:
    catalog = load_catalog(write_generic(tmp_path / "mine"))
    assert len(catalog) == 3 and len(catalog.interactions) == 3
    assert catalog.get("c").attributes == {"runtime": 120}
    assert catalog.kg is not None and catalog.kg.name("p:tom") == "Tom Cruise"
    assert sorted(catalog.kg.items_of("p:tom")) == ["a", "b"]
    assert catalog.interactions.sequences()["u1"].tolist() == [0, 1]


def test_generic_without_optional_files(tmp_path: Path) -> None:
    catalog = load_generic(write_generic(tmp_path / "bare", interactions=None, kg=None, entities=None))
    assert len(catalog) == 3 and len(catalog.interactions) == 0 and catalog.kg is None


@pytest.mark.parametrize(
    ("items", "line", "field"),
    [
        ([ITEMS[0], "{not json"], 2, None),
        ([ITEMS[0], {"id": "x"}], 2, "title"),
        ([ITEMS[0], {"id": "x", "title": "X", "year": "soon"}], 2, "year"),
        ([ITEMS[0], {"id": "x", "title": "X", "year": 99999}], 2, "year"),
        ([ITEMS[0], ITEMS[0]], 2, "id"),
        ([ITEMS[0], {"id": "x", "title": "X", "colour": "red"}], 2, "colour"),
        (["[1, 2]"], 1, None),
    ],
)
def test_generic_bad_items(tmp_path: Path, items, line, field) -> None:
    folder = write_generic(tmp_path / "bad", items=items, interactions=None, kg=None, entities=None)
    with pytest.raises(CatalogFormatError) as info:
        load_generic(folder)
    err = info.value
    assert err.path.endswith("items.jsonl") and err.line == line and err.field == field
    assert f"line {line}" in str(err)


@pytest.mark.parametrize(
    ("interactions", "line", "field"),
    [
        ("user,item,rating\nu1,a,5\nu1,zzz,4\n", 3, "item"),
        ("user,item,rating\nu1,a,five\n", 2, "rating"),
        ("user,item,rating\nu1,a,nan\n", 2, "rating"),
        ("user,item,timestamp\nu1,a,yesterday\n", 2, "timestamp"),
        ("customer,item\nu1,a\n", 1, "user"),
        ("user,item\nu1,a,extra\n", 2, None),
        ("user,item\n,a\n", 2, "user"),
    ],
)
def test_generic_bad_interactions(tmp_path: Path, interactions, line, field) -> None:
    folder = write_generic(tmp_path / "bad", interactions=interactions, kg=None, entities=None)
    with pytest.raises(CatalogFormatError) as info:
        load_generic(folder)
    assert info.value.path.endswith("interactions.csv")
    assert (info.value.line, info.value.field) == (line, field)


def test_generic_bad_kg(tmp_path: Path) -> None:
    folder = write_generic(tmp_path / "bad", kg="e:a\tstarring\n")
    with pytest.raises(CatalogFormatError) as info:
        load_generic(folder)
    assert info.value.path.endswith("kg.tsv") and info.value.line == 1 and info.value.field == "tail"
    folder = write_generic(tmp_path / "bad2", kg="e:a\tstarring\tp:x\n", entities="p:x\t\n")
    with pytest.raises(CatalogFormatError) as info:
        load_generic(folder)
    assert info.value.path.endswith("entities.tsv") and info.value.field == "name"


def test_unknown_source_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CatalogFormatError, match="not a known catalog"):
        load_catalog(tmp_path)


# ---- RecBole atomic files ----------------------------------------------------------------
def write_atomic(
    folder: Path,
    inter: str,
    item: str = "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n1\tToy Story\t1995\tAnimation Comedy\n2\tHeat\t1995\tAction\n",
) -> Path:
    folder.mkdir(parents=True)
    (folder / f"{folder.name}.item").write_text(item)
    (folder / f"{folder.name}.inter").write_text(inter)
    return folder


def test_atomic_ok_and_errors(tmp_path: Path) -> None:
    good = write_atomic(
        tmp_path / "tiny", "user_id:token\titem_id:token\trating:float\ttimestamp:float\n7\t1\t4\t100\n7\t2\t5\t90\n"
    )
    catalog = load_atomic_dataset(good)
    assert catalog.interactions.sequences()["7"].tolist() == [1, 0]
    bad = write_atomic(tmp_path / "cols", "user_id:token\titem_id:token\trating:float\n7\t1\n")
    with pytest.raises(CatalogFormatError) as info:
        load_atomic_dataset(bad)
    assert (info.value.line, info.value.field) == (2, "rating")
    bad = write_atomic(tmp_path / "rating", "user_id:token\titem_id:token\trating:float\n7\t1\t4\n7\t2\tx\n")
    with pytest.raises(CatalogFormatError) as info:
        load_atomic_dataset(bad)
    assert (info.value.line, info.value.field) == (3, "rating")
    bad = write_atomic(
        tmp_path / "year", "user_id:token\titem_id:token\n", item="item_id:token\trelease_year:token\n1\tlate\n"
    )
    with pytest.raises(CatalogFormatError) as info:
        load_atomic_dataset(bad)
    assert (info.value.line, info.value.field) == (2, "release_year")
    with pytest.raises(CatalogFormatError, match="file not found"):
        load_atomic_dataset(tmp_path / "missing")


# ---- official MovieLens zips ------------------------------------------------------------
def zip_100k(path: Path, bad_rating: bool = False) -> Path:
    flags = ["0"] * 19
    flags[1] = flags[13] = "1"  # Action, Mystery
    items = "1|Usual Suspects, The (1995)|01-Jan-1995||http://x|" + "|".join(flags) + "\n"
    items += "2|unknown||||" + "|".join(["1"] + ["0"] * 18) + "\n"
    data = "1\t1\t5\t881250949\n2\t2\t3\t881250950\n" + ("3\t1\tfive\t1\n" if bad_rating else "")
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("ml-100k/u.item", items.encode("latin-1"))
        zf.writestr("ml-100k/u.data", data)
    return path


def test_movielens_100k_zip(tmp_path: Path) -> None:
    catalog = load_movielens_zip(zip_100k(tmp_path / "ml-100k.zip"))
    item = catalog.get("1")
    assert (item.title, item.year, item.genres) == ("The Usual Suspects", 1995, ("Action", "Mystery"))
    assert catalog.get("2").genres == () and len(catalog.interactions) == 2
    with pytest.raises(CatalogFormatError) as info:
        load_movielens_zip(zip_100k(tmp_path / "bad.zip", bad_rating=True))
    assert info.value.line == 3 and info.value.field == "rating" and "u.data" in info.value.path


def test_movielens_1m_zip(tmp_path: Path) -> None:
    path = tmp_path / "ml-1m.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(
            "ml-1m/movies.dat",
            "1::Toy Story (1995)::Animation|Children's|Comedy\n2::Heat (1995)::Action\n".encode("latin-1"),
        )
        zf.writestr("ml-1m/ratings.dat", "1::1::5::978300760\n1::2::3::978302109\n")
    catalog = load_movielens_zip(path)
    assert catalog.get("1").genres == ("Animation", "Children's", "Comedy") and catalog.get("2").year == 1995
    assert len(catalog.interactions) == 2


def test_movielens_csv_zip(tmp_path: Path) -> None:
    path = tmp_path / "ml-latest-small.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(
            "ml-latest-small/movies.csv",
            'movieId,title,genres\n1,"American President, The (1995)",Comedy|Drama|Romance\n2,Untitled,(no genres listed)\n',
        )
        zf.writestr(
            "ml-latest-small/ratings.csv", "userId,movieId,rating,timestamp\n1,1,4.5,964982703\n1,2,3.0,964981247\n"
        )
    catalog = load_movielens_zip(path)
    assert catalog.get("1").title == "The American President" and catalog.get("2").genres == ()
    assert catalog.interactions.ratings.tolist() == [4.5, 3.0]


def test_movielens_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "ml-1m.zip"
    path.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(CatalogFormatError, match="not a readable zip"):
        load_movielens_zip(path)


def test_fetch_movielens_from_local_file_records_and_checks_sha(tmp_path: Path) -> None:
    settings = Settings(cache_dir=tmp_path / "cache")
    with pytest.raises(AssetError, match="tastebud assets movielens ml-100k"):
        movielens_zip_path("ml-100k", settings)
    cached = fetch_movielens("ml-100k", settings, source=zip_100k(tmp_path / "src.zip"))
    assert load_catalog("movielens:ml-100k", settings).get("1").year == 1995
    with pytest.raises(AssetError, match="does not match"):
        fetch_movielens("ml-100k", settings, source=tmp_path / "src.zip", sha256="0" * 64)
    cached.write_bytes(cached.read_bytes()[:-10])  # truncate the cached copy
    with pytest.raises(AssetError, match="sha256"):
        load_catalog("movielens:ml-100k", settings)
    with pytest.raises(AssetError, match="unknown MovieLens variant"):
        fetch_movielens("ml-7", settings)
