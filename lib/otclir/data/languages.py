"""The language table and the Bible versions behind it, both kept as data in ``data/``."""
from __future__ import annotations

from functools import lru_cache

import pandas as pd

from otclir.errors import UnknownLanguageError
from otclir.paths import data_dir

TIERS = ("low", "mid", "high")
REDISTRIBUTABLE = {"public-domain", "cc-by-sa-4.0"}


@lru_cache(maxsize=None)
def bible_versions() -> pd.DataFrame:
    """Every Bible version the packages carry: code, source, language, name, licence."""
    table = pd.read_csv(data_dir() / "bible_versions.csv", dtype=str, keep_default_na=False)
    return table.set_index("version", drop=False)


@lru_cache(maxsize=None)
def language_table() -> pd.DataFrame:
    """Languages studied, one row each: code, name, script, tier, version, version name, licence."""
    langs = pd.read_csv(data_dir() / "languages.csv", dtype=str, keep_default_na=False)
    versions = bible_versions()
    unknown = sorted(set(langs.version) - set(versions.version))
    if unknown:
        raise ValueError(f"data/languages.csv names versions missing from data/bible_versions.csv: {unknown}")
    bad_tier = sorted(set(langs.tier) - set(TIERS))
    if bad_tier:
        raise ValueError(f"data/languages.csv has unknown tiers {bad_tier}; use one of {TIERS}")
    langs["version_name"] = langs.version.map(versions.name)
    langs["source"] = langs.version.map(versions.source)
    langs["licence"] = langs.version.map(versions.licence)
    return langs.set_index("code", drop=False)


def known_languages() -> list[str]:
    return sorted(language_table().index)


def language(code: str) -> pd.Series:
    """One row of the language table; an unknown code lists the known ones."""
    table = language_table()
    if code not in table.index:
        raise UnknownLanguageError(
            f"unknown language '{code}'; known languages: {', '.join(known_languages())} "
            "(add a row to data/languages.csv to study another)"
        )
    return table.loc[code]


def check_languages(codes) -> list[str]:
    codes = [codes] if isinstance(codes, str) else list(codes)
    for code in codes:
        language(code)
    return codes


def languages_in_tier(tier: str) -> list[str]:
    if tier not in TIERS:
        raise ValueError(f"unknown tier '{tier}'; tiers are {', '.join(TIERS)}")
    table = language_table()
    return sorted(table.index[table.tier == tier])


def restricted_versions() -> list[str]:
    """Versions whose text must never be committed (copyrighted or licence unknown)."""
    versions = bible_versions()
    return sorted(versions.index[~versions.licence.isin(REDISTRIBUTABLE)])


def redistributable_versions() -> list[str]:
    """Public-domain or openly licensed versions: text from these may appear in fixtures."""
    versions = bible_versions()
    return sorted(versions.index[versions.licence.isin(REDISTRIBUTABLE)])
