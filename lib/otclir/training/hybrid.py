"""Contrastive training of a shared dual encoder with monolingual, cross-lingual and hybrid batches
(Elmahdy, Lin and Ahmad 2024), optionally with OPTICAL's transport loss added.

Training examples are (query verse, cross-referenced verse) pairs of the train split. The Bibles
are parallel, so every pair exists in every training language and a batch can put its queries and
passages in any language. One hard negative per query is mined by BM25 over the English train
split (never dev or test); as a verse id it is available in every language too.

A batch is monolingual (queries and passages in one language, drawn uniformly) with probability
``alpha``, else cross-lingual (queries in one language, passages in another, the ordered pair drawn
uniformly): ``alpha=1`` is the monolingual sampler, ``alpha=0`` the cross-lingual one. The loss
is InfoNCE over the in-batch passages (positives and hard negatives of every query; under DDP,
gathered from all ranks, so the loss is that of the whole batch). A passage relevant to a query
other than its own positive is masked out of that query's negatives. With ``ot_weight`` (lambda)
above 0, the frozen teacher reads the English text of the batch's non-English passages (and, with
``ot_queries``, of its non-English queries, "query: " prefix left out of the transport) and
OPTICAL's loss pulls the student's tokens towards it; the term is the mean over those texts.

    torchrun --nproc_per_node 2 -m otclir.training.hybrid --config run.yaml --output outputs/x
"""
from __future__ import annotations

import json

import numpy as np
import torch

from otclir.data.tasks import relevant_verses, split_verses
from otclir.paths import outputs_dir
from otclir.models.state_cache import frozen_states
from otclir.training.configs import ContrastiveConfig
from otclir.training.loop import Trainer
from otclir.training.samplers import HybridSampler
from otclir.transport.losses import info_nce
from otclir.transport.objectives import TERMS, TRANSPORT_TERM, TermStates

NEGATIVE_DEPTH = 30  # BM25 candidates kept per query when mining hard negatives


def batch_kind(alpha: float) -> str:
    return "monolingual" if alpha == 1 else "cross-lingual" if alpha == 0 else "hybrid"


# ---------------------------------------------------------------- data
def training_pairs(languages, split: str = "train", budget: int | None = None, seed: int = 0) -> list[tuple[str, str]]:
    """(query verse, cross-referenced verse) pairs of a split whose verses exist in every language,
    in a seeded order, the first ``budget`` of them."""
    present = set.intersection(*(set(split_verses(code, split)) for code in languages))
    pairs = sorted((q, d) for q, docs in relevant_verses(split).items() if q in present for d in docs if d in present)
    order = np.random.default_rng(seed).permutation(len(pairs))
    if budget is not None:
        order = order[:budget]
    return [pairs[i] for i in order]


def bm25_candidates(split: str = "train", language: str = "en", depth: int = NEGATIVE_DEPTH) -> dict[str, list[str]]:
    """Per query verse of the split, the top BM25 verses of the same split that it does not
    cross-reference (itself excluded), best first. Cached under outputs/derived/hard_negatives/."""
    from otclir.retrieval.dictionary import WORD

    path = outputs_dir("derived", "hard_negatives") / f"{split}-{language}-bm25-{depth}.json"
    if path.is_file():
        return json.loads(path.read_text())
    try:
        import bm25s
        from bm25s.stopwords import STOPWORDS_EN
    except ImportError:
        from otclir.errors import MissingPackageError

        raise MissingPackageError("bm25s is not installed; install it with `pip install bm25s==0.3.16`") from None
    texts = split_verses(language, split)
    ids = sorted(texts)
    stop = set(STOPWORDS_EN) if language == "en" else set()
    tokens = [[w for w in WORD.findall(texts[v].lower()) if w not in stop] for v in ids]
    retriever = bm25s.BM25()
    retriever.index(tokens, show_progress=False)
    position = {v: i for i, v in enumerate(ids)}
    mined = {}
    for query, relevant in sorted(relevant_verses(split).items()):
        if query not in position:
            continue
        words = [w for w in tokens[position[query]] if w in retriever.vocab_dict]
        if not words:
            continue
        scores = retriever.get_scores(words)
        for verse in relevant | {query}:
            if verse in position:
                scores[position[verse]] = -np.inf
        order = np.lexsort((np.arange(len(ids)), -scores))[:depth]  # ties by verse order: reproducible
        mined[query] = [ids[i] for i in order if np.isfinite(scores[i])]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(mined, indent=0, sort_keys=True) + "\n")
    return mined


def hard_negatives(languages, split: str = "train") -> dict[str, str]:
    """One hard negative per query verse: its best BM25 candidate present in every language."""
    present = set.intersection(*(set(split_verses(code, split)) for code in languages))
    chosen = {}
    for query, candidates in bm25_candidates(split).items():
        for verse in candidates:
            if verse in present:
                chosen[query] = verse
                break
    return chosen


# ---------------------------------------------------------------- trainer
class ContrastiveTrainer(Trainer):
    config: ContrastiveConfig

    def needs_teacher(self) -> bool:
        return self.config.ot_weight > 0

    def prepare_data(self):
        cfg = self.config
        if cfg.pairs_collection:
            return self.collection_data()
        self.texts = {code: split_verses(code, "train") for code in cfg.languages}
        self.english = split_verses("en", "train") if cfg.ot_weight > 0 else {}
        self.relevant = relevant_verses("train")
        needed = sorted(set(cfg.languages) | ({"en"} if cfg.ot_weight > 0 else set()))
        self.negatives = hard_negatives(needed) if cfg.hard_negative else {}
        pairs = training_pairs(needed, "train", None, cfg.seed)
        if cfg.hard_negative:
            pairs = [p for p in pairs if p[0] in self.negatives]
        self.pairs = pairs[:cfg.train_pairs] if cfg.train_pairs is not None else pairs
        return self._sampler()

    def _sampler(self) -> HybridSampler:
        """The batch plan; with ``bucket_batches`` batches of pairs of similar length (the pair's
        longest text in the first training language, in tokens)."""
        cfg = self.config
        self._memos()
        lengths = None
        if cfg.bucket_batches:
            texts = self.texts[cfg.languages[0]]
            ids = [self.pairs[i][0] for i in range(len(self.pairs))]
            query = self.student.tokenizer([texts[v] for v in ids], truncation=True, max_length=cfg.max_length)["input_ids"]
            passage = self.student.tokenizer([texts[p] for _, p in self.pairs], truncation=True,
                                             max_length=cfg.max_length)["input_ids"]
            lengths = [max(len(a), len(b)) for a, b in zip(query, passage)]
        return HybridSampler(len(self.pairs), cfg.batch_size, cfg.languages, cfg.alpha, cfg.seed, lengths=lengths)

    def _memos(self) -> None:
        """States of frozen parts, kept per text for every configuration of this process: the
        student's lowest ``frozen_layers`` layers (base weights) and the teacher's last layer."""
        cfg = self.config
        self.lower_memo = frozen_states(("hybrid-lower", self.student.spec.path, cfg.max_length, cfg.frozen_layers),
                                        dict) if cfg.frozen_layers else None
        self.teacher_memo = frozen_states(("hybrid-teacher", cfg.teacher, cfg.max_length), dict) \
            if cfg.ot_weight > 0 else None

    def collection_data(self):
        """Training examples from a collection with the same ids in every language (mMARCO's layout)."""
        from otclir.data.external import training_data

        cfg = self.config
        needed = sorted(set(cfg.languages) | ({"en"} if cfg.ot_weight > 0 else set()))
        data = training_data(cfg.pairs_collection, needed, cfg.train_pairs, cfg.seed, with_negatives=cfg.hard_negative)
        self.texts, self.relevant, self.pairs = data.texts, data.relevant, data.pairs
        self.english = data.texts["en"] if cfg.ot_weight > 0 else {}
        self.negatives = data.negatives if cfg.hard_negative else {}
        return self._sampler()

    def progress_label(self) -> str:
        return f"{batch_kind(self.config.alpha)} alpha={self.config.alpha:g} lambda={self.config.ot_weight:g}"

    def passage_ids(self, indices) -> list[str]:
        """Passages of a batch share: the positives, then the hard negatives."""
        chosen = [self.pairs[i] for i in indices]
        ids = [p for _, p in chosen]
        if self.config.hard_negative:
            ids += [self.negatives[q] for q, _ in chosen]
        return ids

    def batch_losses(self) -> dict[str, torch.Tensor]:
        cfg = self.config
        plan = self.sampler.next_batch()
        mine = plan.share(self.rank, self.world)
        queries = [self.pairs[i][0] for i in mine]
        passages = self.passage_ids(mine)
        # one forward for queries and passages: DDP expects one forward per backward
        if self.lower_memo is not None:
            items = [(plan.query_language, v, "query") for v in queries] + \
                    [(plan.passage_language, v, "passage") for v in passages]
            lower, attention, ids = self._remembered(self.student, self.lower_memo, items, cfg.frozen_layers)
            batch = {"input_ids": ids, "attention_mask": attention.long()}
            hidden = self.module(lower, attention)
        else:
            q_text = self.student.prepare([self.texts[plan.query_language][v] for v in queries], "query")
            p_text = self.student.prepare([self.texts[plan.passage_language][v] for v in passages], "passage")
            batch = self.student.tokenize(q_text + p_text, kind=None)
            hidden = self.student_forward(batch["input_ids"], batch["attention_mask"])
        emb = self.student.mean_pool(hidden, batch["attention_mask"].bool())
        q_emb, p_emb = emb[:len(queries)], emb[len(queries):]
        all_passages, offset = p_emb, 0
        global_ids = passages
        if self.world > 1:
            import torch.distributed.nn.functional as dist_fn

            all_passages = torch.cat(dist_fn.all_gather(p_emb), 0)
            shares = [plan.share(r, self.world) for r in range(self.world)]
            offset = sum(len(self.passage_ids(s)) for s in shares[:self.rank])
            global_ids = [v for s in shares for v in self.passage_ids(s)]
        labels = torch.arange(len(queries), device=emb.device) + offset
        mask = torch.zeros(len(queries), len(global_ids), dtype=torch.bool)
        for i, query in enumerate(queries):
            related = self.relevant.get(query, frozenset()) | {query}
            for j, verse in enumerate(global_ids):
                if j != offset + i and verse in related:
                    mask[i, j] = True
        loss = info_nce(q_emb, all_passages, labels, cfg.temperature, mask.to(emb.device))
        out = {"info_nce": loss, "monolingual": torch.tensor(float(plan.monolingual))}
        total = loss
        if cfg.ot_weight > 0:
            parts = [("passage", plan.passage_language, passages, slice(len(queries), None))]
            if cfg.ot_queries:
                parts.append(("query", plan.query_language, queries, slice(0, len(queries))))
            ot, transported, errors = hidden.new_zeros(()), 0, []
            for kind, code, verses, rows in parts:
                if code == "en":  # the teacher already reads English: nothing to transport
                    continue
                s_ids, s_attention = batch["input_ids"][rows], batch["attention_mask"][rows]
                t_hidden, t_attention, t_ids = self._remembered(self.teacher, self.teacher_memo,
                                                                [("en", v, kind) for v in verses], self.teacher.num_layers)
                states = TermStates(
                    teacher_tokens=t_hidden,
                    teacher_mask=self.content_mask(self.teacher, t_ids, t_attention, kind),
                    student_tokens=hidden[rows], student_mask=self.content_mask(self.student, s_ids, s_attention, kind),
                    teacher_sentences=None, student_sentences=None)
                loss_part, plan_info = TERMS[TRANSPORT_TERM].loss(states, cfg)
                ot = ot + loss_part * len(verses)
                transported += len(verses)
                errors.append(plan_info["ot_marginal_error"])
            if transported:
                ot = ot / transported
                out["ot_marginal_error"] = torch.tensor(float(np.mean(errors)))
            out["ot"] = ot
            total = total + cfg.ot_weight * ot
        out["loss"] = total
        return out

    def _remembered(self, encoder, memo: dict, items, layer: int):
        """Padded states after ``layer`` of the texts ``items`` ((language, verse, kind) each) under a
        frozen encoder or a student's frozen layers: each text is computed once, then read from
        ``memo``. Returns (states, attention mask, input ids) on the student's device."""
        from otclir.models.encoder import pad_states

        for kind in ("query", "passage"):
            missing = sorted({(code, verse) for code, verse, k in items if k == kind and (code, verse, k) not in memo})
            if missing:
                texts = [(self.english if code == "en" and encoder is self.teacher else self.texts[code])[verse]
                         for code, verse in missing]
                found = encoder.hidden_states(texts, kind, [layer], show_progress=False)[layer]
                for (code, verse), state, ids in zip(missing, found.states, found.input_ids):
                    memo[(code, verse, kind)] = (state, ids)
        hidden, mask, ids = pad_states([memo[i][0] for i in items], [memo[i][1] for i in items])
        device = self.student.device
        return hidden.to(device), mask.to(device), ids.to(device)

    def _dev_vectors(self, texts: list[str], kind: str):
        if not self.config.frozen_layers:
            return self.student.encode(texts, kind=kind)
        from otclir.models.state_cache import lower_states

        # the student's frozen layers hold the base weights: their states of fixed texts never change
        return self.student.encode(None, kind=kind, lower=lower_states(self.student, texts, kind, self.config.frozen_layers))

    def dev_languages(self) -> list[str]:
        return [c for c in self.config.languages if c != "en"] or ["en"]

    def evaluate_dev(self) -> dict[str, float]:
        """Mean over the non-English training languages of English-query dev MAP and nDCG@10,
        queries and documents both read by the student (it is a shared dual encoder)."""
        from otclir.data.tasks import bible_tasks
        from otclir.retrieval.dense import dev_scores

        cfg = self.config
        if self._dev is None:
            self._dev = [bible_tasks([cfg.dev_task], code, "dev", "en", max_queries=cfg.dev_queries, max_docs=cfg.dev_docs,
                                     seed=cfg.dev_sample_seed)[cfg.dev_task] for code in self.dev_languages()]
        scores = []
        for task in self._dev:  # the frozen layers' states of the dev texts are computed once
            queries = self._dev_vectors([task.queries[q] for q in task.queries], "query")
            docs = self._dev_vectors([task.docs[d] for d in task.docs], "passage")
            scores.append(dev_scores(task, queries, docs))
        return {k: float(np.mean([s[k] for s in scores])) for k in scores[0]}


def main(argv=None) -> int:
    from otclir.training.trainer import command_line

    return command_line(argv, ContrastiveConfig, "Contrastive training with hybrid batches (runs under torchrun too).")


if __name__ == "__main__":
    raise SystemExit(main())
