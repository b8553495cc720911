"""Per-query gains against what a query is: features from a task and a tokenizer, rank correlations
with intervals that find a planted dependence and do not invent one."""
import numpy as np
import pandas as pd

from otclir.data.tasks import RetrievalTask
from otclir.evaluation import error_analysis
from otclir.models.tokenization import load_tokenizer


def test_query_features_count_words_relevant_documents_and_pieces_per_word():
    task = RetrievalTask("toy", queries={"q1": "In the beginning", "q2": "light"},
                         docs={"d1": "God created", "d2": "the heavens and the earth", "d3": "darkness"},
                         qrels={"q1": {"d1": 1, "d2": 1, "d3": 0}, "q2": {"d3": 1}})
    tokenizer = load_tokenizer("e5-small-student")
    features = error_analysis.query_features(task, tokenizer)
    assert features.loc["q1", "query_words"] == 3 and features.loc["q1", "relevant"] == 2
    pieces = len(tokenizer("God created the heavens and the earth".split(), is_split_into_words=True,
                           add_special_tokens=False)["input_ids"])
    assert features.loc["q1", "fertility"] == pieces / 7
    assert features.loc["q2", "relevant"] == 1 and features.loc["q2", "fertility"] >= 1


def test_a_planted_dependence_is_found_and_noise_is_not():
    rng = np.random.default_rng(0)
    queries = [f"q{i}" for i in range(400)]
    features = pd.DataFrame({"query_words": rng.integers(5, 60, 400), "relevant": rng.integers(1, 30, 400),
                             "fertility": rng.uniform(1.1, 2.5, 400)}, index=queries)
    gains = pd.Series(0.002 * features.query_words.to_numpy() + rng.normal(0, 0.02, 400), index=queries)
    table = error_analysis.gains_by_feature(gains, features, n_resamples=500).set_index("feature")
    length = table.loc["query length (words)"]
    assert length.rho_low > 0.5 and length.queries == 400
    assert float(length["highest third"].split()[0]) > float(length["lowest third"].split()[0])
    noise = table.loc["relevant documents"]
    assert noise.rho_low < 0 < noise.rho_high  # no dependence planted: the interval covers zero
