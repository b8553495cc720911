import pytest

from otclir.data import bible
from otclir.data.languages import bible_versions


@pytest.mark.slow
def test_every_bible_db_version_reads_complete_in_kjv_versification():
    codes = bible_versions().index[bible_versions().source == "bible.db"]
    assert len(codes) == 31
    for code in codes:
        verses = bible.read_version(code)
        report = bible.versification(verses)
        assert report == {"verses": 31102, "shared_with_kjv": 31102,
                          "missing_from_version": 0, "extra_in_version": 0}, code


def test_chichewa_extra_verses_are_counted_not_dropped():
    verses = bible.read_language("ny")
    report = bible.versification(verses)
    assert report["extra_in_version"] == 2
    assert report["missing_from_version"] == 0
    assert (64, 1, 15) in verses and (66, 12, 18) in verses


def test_verse_ids_round_trip_and_reject_malformed():
    assert bible.verse_id((1, 1, 1)) == "01001001"
    assert bible.parse_verse_id("19119176") == (19, 119, 176)
    with pytest.raises(ValueError, match="malformed verse id"):
        bible.parse_verse_id("1:1:1")


def test_public_domain_texts_are_what_they_say(web):
    kjv = bible.read_version("k")
    assert kjv[(43, 11, 35)] == "Jesus wept."
    assert web[(1, 1, 1)].startswith("In the beginning")


def test_cross_references_have_no_self_references():
    refs = bible.cross_references()
    assert len(refs) == 24428 - 2
    assert not (refs.source == refs.target).any()
    genesis = set(refs.target[refs.source == "01001001"])
    assert {"02020011", "13016026"} <= genesis  # Exodus 20:11, 1 Chronicles 16:26


def test_aligned_keeps_keys_shared_by_all_languages():
    frame = bible.aligned(["en", "tl"])
    assert len(frame) == 31102
    assert list(frame.columns) == ["en", "tl"]
