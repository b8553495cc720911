import pytest

from otclir.data import languages
from otclir.data.bible import _connect
from otclir.errors import UnknownLanguageError


def test_table_has_the_study_languages_and_every_tier():
    table = languages.language_table()
    for column in ["code", "name", "script", "tier", "version", "version_name", "licence"]:
        assert column in table.columns
    assert {"sw", "tl", "ny"} <= set(languages.languages_in_tier("low"))
    assert languages.languages_in_tier("mid") and languages.languages_in_tier("high")
    assert table.loc["en", "licence"] == "public-domain"


def test_unknown_language_lists_the_known_ones():
    with pytest.raises(UnknownLanguageError) as err:
        languages.language("xx")
    message = str(err.value)
    assert "unknown language 'xx'" in message
    for code in ["en", "sw", "tl", "ny"]:
        assert code in message


def test_every_version_in_bible_db_has_a_licence_entry():
    with _connect() as con:
        in_db = {row[0] for row in con.execute("SELECT DISTINCT bbName FROM bible")}
    table = languages.bible_versions()
    assert in_db <= set(table.index)
    assert len(in_db) == 31
    assert set(table.licence) <= {"public-domain", "cc-by-sa-4.0", "copyrighted", "unknown"}


def test_restricted_versions_include_the_copyrighted_ones():
    restricted = set(languages.restricted_versions())
    assert {"h", "2", "i", "6", "chichewa"} <= restricted
    assert not restricted & set(languages.redistributable_versions())
