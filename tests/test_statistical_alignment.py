"""Word alignment by EM (IBM Model 1 and fast_align's diagonal prior) and the induced dictionary."""
import numpy as np
import pytest

from otclir.errors import OtclirError
from otclir.transport import statistical_alignment as sa


def test_one_em_iteration_matches_the_hand_computed_counts():
    # Model 1 from the uniform table on two pairs; the expected counts after one iteration, by hand:
    # pair 1 (a b | x y): each target word spreads 1/3 over NULL, a, b;
    # pair 2 (a | x): x spreads 1/2 over NULL, a.
    model = sa.train([(["a", "b"], ["x", "y"]), (["a"], ["x"])], iterations=1)
    t = dict(zip(zip((model.source_vocab[i] for i in model.pair_source),
                     (model.target_vocab[j] for j in model.pair_target)), model.prob))
    # counts: a-x 1/3 + 1/2, a-y 1/3; NULL-x 1/3 + 1/2, NULL-y 1/3; b-x 1/3, b-y 1/3
    assert t[("a", "x")] == pytest.approx((1 / 3 + 1 / 2) / (1 / 3 + 1 / 2 + 1 / 3))
    assert t[("b", "x")] == pytest.approx(0.5)
    assert t[(sa.NULL, "y")] == pytest.approx((1 / 3) / (1 / 3 + 1 / 2 + 1 / 3))
    for source in range(len(model.source_vocab)):  # each source word's table sums to 1
        assert model.prob[model.pair_source == source].sum() == pytest.approx(1.0)


@pytest.mark.slow
def test_em_learns_verse_translations_and_aligns_them(web):
    # Genesis and Exodus, WEB against Tagalog 1905 (both public domain).
    from otclir.data.bible import read_version
    from otclir.retrieval.dictionary import words

    tagalog = read_version("f")
    keys = sorted(k for k in web if k[0] in (1, 2) and k in tagalog)
    pairs = [(words(web[k]), words(tagalog[k])) for k in keys]
    model = sa.train(pairs, iterations=5, diagonal_tension=4.0)
    assert model.translations("god", top=1)[0][0] == "dios"
    assert model.translations("water", top=1)[0][0] == "tubig"
    assert model.translations("no-such-word") == []
    backward = sa.train([(t, e) for e, t in pairs], iterations=5, diagonal_tension=4.0)
    source, target = ["god", "saw", "the", "water"], ["nakita", "ng", "dios", "ang", "tubig"]
    links = sa.symmetric_links(model, backward, source, target, "intersection")
    assert (0, 2) in links and (3, 4) in links
    assert links <= sa.symmetric_links(model, backward, source, target, "union")


def test_the_diagonal_prior_prefers_nearby_positions():
    prior, null = sa.alignment_prior(4, 4, tension=4.0, null_prob=0.08)
    assert np.allclose(prior.sum(0) + null, 1.0)
    assert all(prior[j, j] == prior[:, j].max() for j in range(4))
    uniform, null = sa.alignment_prior(3, 5, tension=0.0, null_prob=0.08)
    assert np.allclose(uniform, 0.25) and null == 0.25


def test_bad_settings_are_refused():
    with pytest.raises(OtclirError, match="iterations must be at least 1"):
        sa.train([(["a"], ["x"])], iterations=0)
    with pytest.raises(OtclirError, match="at least one sentence pair"):
        sa.train([(["a"], [])])
    with pytest.raises(OtclirError, match="unknown method 'both'"):
        model = sa.train([(["a"], ["x"])])
        sa.symmetric_links(model, model, ["a"], ["x"], "both")
