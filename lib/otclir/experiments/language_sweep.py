"""Every language the Bibles offer: the zero-shot student and the distilled students of notebook 03,
trained with the recipes notebook 03's study chose, on each language at one budget, so that the
gain of each objective can be set against how much pretraining text the language had and how its
text falls into word pieces (:mod:`otclir.evaluation.across_languages`), beside the hand-set tiers.

The sweep is declared as ``language_sweep`` in notebook 05's profile section (:class:`SweepSettings`)
and computed by ``otclir language-sweep``. Its students are built by the same code as notebook
03's headline (the recipes in ``recipes.json``, :func:`headline_config`, the same trainer and
evaluation), so a language the headline already computed at the same settings is read from the
headline's results (only where they were computed by this checkout's code), never trained again;
its results carry the fingerprint of this module and all it imports. Each finished language is staged (``parts/``) so that a sweep spanning sessions resumes.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import pandas as pd

from otclir.data.languages import bible_versions, check_languages
from otclir.errors import OtclirError
from otclir.experiments.distillation import (NOTEBOOK, ExperimentSettings, headline_config, part_record,
                                             selection_table)
from otclir.experiments.provenance import notebook_code
from otclir.experiments.results import SETTINGS_FILE, ResultStore
from otclir.retrieval.system_names import DISTILLED, SCORERS, ZERO_SHOT, distilled_name
from otclir.settings import Settings, choice, each, mapping, setting, text, whole
from otclir.transport.objectives import OBJECTIVES

STORE = f"{NOTEBOOK}.languages"  # results/<profile>/<STORE>/
PARTS = "parts"
# the gain needs the zero-shot student and nothing else: the ceiling (the teacher on the same English verses)
# is the same for every language, and notebook 03 measures it
SYSTEMS = [ZERO_SHOT, DISTILLED]
LANGUAGE_COLUMNS = ["language", "pieces_per_word", "pieces_per_english_piece", "verses", "english_words"]


def bible_languages() -> list[str]:
    """Every language a Bible version in the packages is written in, English left out (the queries')."""
    return sorted(set(bible_versions().language) - {"en"})


@dataclass
class SweepSettings(Settings):
    """What the sweep trains and measures (the ``language_sweep`` mapping)."""

    WHAT = "language_sweep setting"

    languages: list[str] | None = setting(None, check=each(text(), distinct=True, none=True))  # None: every Bible language
    budget: int = setting(2000, check=whole(1))
    objectives: list[str] = setting(factory=lambda: ["sentence_mse", "contrastive", "ot"],
                                    check=each(choice(OBJECTIVES, "objectives"), distinct=True))
    seeds: list[int] = setting(factory=lambda: [0], check=each(whole(0), distinct=True))
    task: str = setting("crossref", check=text())
    scorer: str = setting("mean", check=choice(SCORERS, "scorers"))

    def __post_init__(self):
        super().__post_init__()
        from otclir.data.tasks import check_tasks

        check_tasks([self.task])
        if self.languages is not None:
            check_languages(self.languages)
            if "en" in self.languages:
                raise OtclirError("the language sweep reads English queries; leave 'en' out of its languages")
        else:
            check_languages(bible_languages())  # a version's language missing from data/languages.csv fails here

    @property
    def chosen_languages(self) -> list[str]:
        return list(self.languages) if self.languages is not None else bible_languages()

    @property
    def systems(self) -> list[str]:
        return [ZERO_SHOT, *(distilled_name(o, self.budget) for o in self.objectives)]


@dataclass
class LanguageSweep(Settings):
    """Notebook 05's ``language_sweep`` parameter: None, or a :class:`SweepSettings` mapping."""

    WHAT = "notebook 05 setting"

    language_sweep: dict | None = setting(None, check=mapping(none=True))

    def __post_init__(self):
        super().__post_init__()
        if self.language_sweep is not None:
            SweepSettings.from_dict(self.language_sweep)


class SweepStore(ResultStore):
    """The sweep's results: ``results/<profile>/<STORE>/``, fingerprinted by the code that computes
    them: this module and everything it imports (notebook 03's code among it)."""

    def __init__(self, profile: str):
        super().__init__(profile, STORE)


def experiment_settings(sweep: SweepSettings, headline: ExperimentSettings) -> ExperimentSettings:
    """Notebook 03's settings for the sweep: the headline's training, test pool and seed, the sweep's
    languages, budget, objectives, training seeds, task and scorer, and only the systems a gain needs."""
    missing = sorted(set(sweep.objectives) - set(headline.objectives))
    if missing:
        raise OtclirError(f"the language sweep's objectives {missing} have no recipe in notebook 03's results "
                          f"(its objectives: {headline.objectives}); sweep those only")
    return ExperimentSettings(languages=sweep.chosen_languages, budgets=[sweep.budget], objectives=list(sweep.objectives),
                              training=dict(headline.training), study=None, systems=list(SYSTEMS),
                              scorers=[sweep.scorer], rerank_depth=headline.rerank_depth,
                              test_queries=headline.test_queries, test_docs=headline.test_docs, seed=headline.seed,
                              tasks=[sweep.task], training_seeds=list(sweep.seeds), run_depth=headline.run_depth)


def headline_rows(sweep: SweepSettings, headline: ExperimentSettings, results: pd.DataFrame, language: str):
    """The rows the headline already holds for ``language`` at the sweep's settings (None where it
    does not hold every one: another budget, seed, task or scorer)."""
    if language not in headline.languages or sweep.budget not in headline.budgets \
            or sweep.task not in headline.tasks or sweep.scorer not in headline.scorers \
            or not set(sweep.seeds) <= set(headline.student_seeds) or headline.collection is not None:
        return None
    rows = results[(results.language == language) & (results.task == sweep.task) & (results.scorer == sweep.scorer)
                   & results.system.isin(sweep.systems)]
    trained = rows.system.str.startswith("distill-")
    rows = rows[~trained | rows.seed.isin(sweep.seeds)]
    if set(rows.system) != set(sweep.systems):
        return None
    return rows.reset_index(drop=True)


def token_measures(language: str, task: str, tokenizer) -> dict:
    """How the language's test pool falls into the student's word pieces: pieces per whitespace word
    (None for scripts that do not put spaces between words) and pieces per piece of the English
    text of the same verses (script-independent)."""
    from otclir.data.tasks import bible_task, split_verses

    docs = bible_task(task, language, "test").docs
    english = split_verses("en", "test")
    verses = sorted(set(docs) & set(english))
    target = [docs[v] for v in verses]
    source = [english[v] for v in verses]

    def pieces(texts):
        return sum(map(len, tokenizer(texts, add_special_tokens=False)["input_ids"]))

    words = sum(len(t.split()) for t in target)
    spaced = words >= 0.5 * sum(len(t.split()) for t in source)  # Chinese and Japanese write no spaces
    return {"language": language, "pieces_per_word": pieces(target) / words if spaced else None,
            "pieces_per_english_piece": pieces(target) / pieces(source), "verses": len(verses),
            "english_words": sum(len(t.split()) for t in source)}


def _train_and_compare(language: str, settings: ExperimentSettings, recipes: dict, run_name: str, progress: bool,
                       log) -> pd.DataFrame:
    from otclir.experiments import headline, systems

    budget = settings.budgets[0]
    students, runs = {}, {}
    for objective in settings.objectives:
        for training_seed in settings.student_seeds:
            config = headline_config(recipes[objective], settings, language, objective, budget, training_seed)
            result = systems.train_students(language, config, [objective], [budget], progress)
            name = distilled_name(objective, budget)
            runs[(name, training_seed)] = result[name]
            students.setdefault(name, {})[training_seed] = result[name]["model"]
    frame, _ = headline.compare_systems(language, students, run_name, settings.tasks, settings.test_queries,
                                        settings.test_docs, settings.systems, settings.budgets, settings.scorers,
                                        settings.rerank_depth, settings.seed, log, run_depth=settings.run_depth)
    return frame.merge(selection_table(runs), on=["system", "seed"], how="left")


def compute(sweep: SweepSettings, profile: str, log=print, progress: bool = False) -> dict:
    """Train and evaluate every language of the sweep that neither the headline nor a stopped sweep
    holds, staging each as it finishes, then store the whole; the headline's results are read, not
    changed."""
    from otclir.models.tokenization import load_tokenizer

    headline_store = ResultStore(profile, NOTEBOOK)
    headline_store.require()
    headline = ExperimentSettings(**headline_store.read_json(SETTINGS_FILE))
    recipes = headline_store.read_json("recipes.json")
    headline_results = headline_store.read_table("results.csv")
    settings = experiment_settings(sweep, headline)
    if headline_store.provenance().get("code") != notebook_code(NOTEBOOK):
        raise OtclirError(f"notebook 03's stored results were computed by other code than this checkout's; recompute "
                          f"them first (`otclir run 03 --profile {profile} -p recompute true`), then the sweep")
    record = {"sweep": sweep.to_record(), "experiment": settings.to_record(), "recipes": recipes}
    store = SweepStore(profile)
    started = time.time()
    tokenizer = load_tokenizer("e5-small-student")
    with store.recomputing():
        earlier = earlier_languages(store, record)  # read before start() may clear the staging folder
        store.start(record)
        tables, measures, sources = [], [], {}
        languages = sweep.chosen_languages
        for number, language in enumerate(languages, start=1):
            if language in earlier:
                frame, tokens, sources[language] = earlier[language]
                log(f"[{number}/{len(languages)}] {language}: reused (computed {sources[language].get('date')})")
            else:
                frame = headline_rows(sweep, headline, headline_results, language)
                if frame is not None:
                    provenance = headline_store.provenance()
                    sources[language] = {"from": "headline", "date": provenance.get("date"),
                                         "commit": (provenance.get("git") or {}).get("commit")}
                    log(f"[{number}/{len(languages)}] {language}: read from notebook 03's headline")
                else:
                    began = time.time()
                    frame = _train_and_compare(language, settings, recipes, f"{profile}-languages", progress, log)
                    now = part_record(store)
                    sources[language] = {"from": "sweep", "date": now["date"], "commit": (now["git"] or {}).get("commit"),
                                         "seconds": round(time.time() - began, 1)}
                    log(f"[{number}/{len(languages)}] {language}: trained and evaluated in {time.time() - began:.0f} s")
                tokens = pd.DataFrame([token_measures(language, sweep.task, tokenizer)])
            store.write_table(f"{PARTS}/source_en-{language}.csv", pd.DataFrame([sources[language]]))
            store.write_table(f"{PARTS}/tokens_en-{language}.csv", tokens)
            store.write_table(f"{PARTS}/results_en-{language}.csv", frame)  # written last: the language is done
            tables.append(frame)
            measures.append(tokens)
        results = pd.concat(tables, ignore_index=True)
        store.write_table("results.csv", results)
        store.write_table("languages.csv", pd.concat(measures, ignore_index=True)[LANGUAGE_COLUMNS])
        store.write_table("sources.csv", pd.DataFrame([{"language": k, **v} for k, v in sources.items()]))
        store.remove(PARTS)
        return store.finish(time.time() - started, record)


def _language_free(record: dict) -> dict:
    """A sweep's record without its list of languages: what one language's results depend on."""
    from otclir.settings import as_json

    values = as_json(record)
    return {**values, "sweep": {k: v for k, v in values["sweep"].items() if k != "languages"},
            "experiment": {k: v for k, v in values["experiment"].items() if k != "languages"}}


def earlier_languages(store: SweepStore, record: dict) -> dict:
    """{language: (results rows, token measures, source)} that a stopped sweep staged or a finished
    one stored with the same settings for each language (by this code), so that neither a session's
    end nor a longer list of languages computes a language twice."""
    wanted, found = _language_free(record), {}
    for run in store.earlier_runs():
        if _language_free(run.settings) != wanted:
            continue
        if run.kind == "stopped":
            for path in sorted((run.folder / PARTS).glob("results_en-*.csv")):
                language = path.name[len("results_en-"):-len(".csv")]
                names = [f"{PARTS}/{kind}_en-{language}.csv" for kind in ("results", "tokens", "source")]
                if language not in found and run.has(*names):
                    found[language] = (run.table(names[0]), run.table(names[1]), run.table(names[2]).iloc[0].to_dict())
        elif run.has("results.csv", "languages.csv", "sources.csv"):
            results, tokens, sources = run.table("results.csv"), run.table("languages.csv"), run.table("sources.csv")
            for language in sorted(set(results.language) - set(found)):
                found[language] = (results[results.language == language].reset_index(drop=True),
                                   tokens[tokens.language == language].reset_index(drop=True),
                                   sources[sources.language == language].drop(columns="language").iloc[0].to_dict())
    return found


def staged_languages(profile: str) -> list[str]:
    """The languages a stopped sweep has staged (for a notebook that shows how far it got)."""
    folder = SweepStore(profile).staged(PARTS)
    return sorted(p.name[len("results_en-"):-len(".csv")] for p in folder.glob("results_en-*.csv"))


def load(profile: str) -> dict:
    """The stored sweep: its settings, results, the languages' token measures and where each came from."""
    store = SweepStore(profile)
    store.require()
    record = store.read_json(SETTINGS_FILE)
    sweep = SweepSettings.from_dict(record["sweep"])
    out = {"sweep": sweep, "provenance": store.provenance(), "results": store.read_table("results.csv"),
           "languages": store.read_table("languages.csv"), "sources": store.read_table("sources.csv")}
    found = set(out["results"].language)
    missing = sorted(set(sweep.chosen_languages) - found)
    if missing:
        raise OtclirError(f"the stored language sweep lacks {', '.join(missing)}; run `otclir language-sweep "
                          f"--profile {profile}`")
    return out

