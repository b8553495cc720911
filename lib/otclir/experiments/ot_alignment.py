"""Notebook 02's parameters: which verses, layers and epsilons its plans and alignment tables use."""
from __future__ import annotations

from dataclasses import dataclass

from otclir.settings import SettingError, Settings, choice, each, number, positive, setting, text, whole
from otclir.transport.alignment import TESTAMENTS


@dataclass
class AlignmentSettings(Settings):
    WHAT = "notebook 02 setting"

    model: str = setting("e5-small-student", check=text())
    layer: int | None = setting(8, check=whole(0, none=True))  # hidden layer of the aligned token vectors (None: last)
    english_tagalog_verses: list[str] = setting(factory=lambda: ["43003016"], check=each(text()))
    greek_verse: str = setting("43001001", check=text())
    epsilons: list[float] = setting(factory=lambda: [0.05], check=each(positive, distinct=True))
    scaled_epsilons: list[float] = setting(factory=lambda: [0.3], check=each(positive, distinct=True, empty=True))
    layers: list[int] = setting(factory=lambda: [8], check=each(whole(0), distinct=True))
    blur_epsilons: list[float] = setting(factory=lambda: [0.05], check=each(positive, distinct=True))
    testaments: list[str] = setting(factory=lambda: ["nt"], check=each(choice(TESTAMENTS, "testaments"), distinct=True))
    alignment_verses: int | None = setting(100, check=whole(1, none=True))
    threshold: float = setting(0.3, check=number(0, 1, says="is a share of a word's plan mass in [0, 1]"))
    seed: int = setting(0, check=whole(0))
    distilled_model: str | None = setting(None, check=text(none=True))

    def __post_init__(self):
        super().__post_init__()
        from otclir.data.bible import parse_verse_id

        for verse in [*self.english_tagalog_verses, self.greek_verse]:
            try:
                parse_verse_id(verse)  # a malformed id is named before any model loads
            except ValueError as error:
                raise SettingError(f"{error} (in english_tagalog_verses or greek_verse)") from None
