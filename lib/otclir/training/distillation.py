"""Distillation on bitext: a frozen teacher reads English, the student learns the other side.

The objective's terms (:mod:`otclir.transport.objectives`) are summed on one batch of states
built here: the teacher's and the student's token states of the last layer, their content masks,
mean-pooled sentence vectors, and, for the transport term, the plan's own states. The plan is
solved on the cost rescaled per item (``cost_scale``), so ``epsilon`` is relative to the cost's
spread, and may be computed on a middle layer (``plan_layer``), which aligns words better than
the last one, while the loss weighs the last layer's cost.

With ``balance_losses`` the terms of a combined objective are weighted so that their gradients
have equal norms on the first batches (then multiplied by each term's weight setting):
otherwise one term's scale decides alone.

Speed: the teacher's token states of a fixed bitext are computed once and reused every epoch;
``frozen_layers`` keeps the lowest layers at their base weights and computes their outputs for
the bitext once, so a step runs only the upper layers; batches group verses of similar length
(``bucket_batches``).
"""
from __future__ import annotations

import torch

from otclir.data.tasks import bitext_pairs
from otclir.training.configs import DistillConfig
from otclir.models.state_cache import frozen_states, texts_key
from otclir.training.loop import Trainer
from otclir.training.samplers import EpochSampler
from otclir.transport.losses import alignment_and_uniformity
from otclir.transport.objectives import TERMS, TRANSPORT_TERM, TermStates, needs, terms_of, transports
from otclir.transport.plan_sources import GoldPlanAER, statistical_plans


class Distiller(Trainer):
    """Distillation on bitext (objectives in :data:`otclir.transport.objectives.OBJECTIVES`)."""

    config: DistillConfig

    def prepare_data(self):
        cfg = self.config
        self.terms = terms_of(cfg.objective)
        self.pairs = bitext_pairs(cfg.language, cfg.query_language, "train", cfg.train_pairs, cfg.seed, cfg.bitext)
        english, target = [p[0] for p in self.pairs], [p[1] for p in self.pairs]
        last = self.teacher.num_layers
        # The teacher is frozen and the bitext fixed: its token states are computed once.
        layers = tuple(sorted({last} | ({cfg.plan_states_layer} if self.plan_states_needed else set())))
        key = (self.teacher.spec.path, self.teacher.spec.delta, cfg.max_length, texts_key(english))
        self.teacher_cache = frozen_states(("teacher", *key, layers),
                                           lambda: self.teacher.hidden_states(english, "passage", layers,
                                                                              show_progress=self.show_progress))
        # So are the outputs of the student's frozen layers (and a fixed plan's layer).
        student_layers = {cfg.frozen_layers} if cfg.frozen_layers else set()
        if self.plan_states_needed and cfg.plan_states_layer <= cfg.frozen_layers:
            student_layers.add(cfg.plan_states_layer)
        student_layers = tuple(sorted(student_layers))
        self.student_cache = {}
        if student_layers:
            key = (self.student.spec.path, self.student.spec.delta, cfg.max_length, texts_key(target), student_layers)
            self.student_cache = frozen_states(("student", *key),
                                               lambda: self.student.hidden_states(target, "passage", student_layers,
                                                                                  show_progress=self.show_progress))
        self.target = target
        self.given_plans = self._statistical_plans() if self.transports and cfg.plan == "statistical" else None
        self.gold_aer = GoldPlanAER(cfg.plan, cfg.plan_states_layer, cfg.epsilon, cfg.cost_scale, cfg.sinkhorn_iters) \
            if self.transports else None
        lengths = [len(s) for s in self.teacher_cache[last].input_ids] if cfg.bucket_batches else None
        self.term_weights = {term: 1.0 for term in cfg.terms}
        self.reference_plan = None  # the probe batch's plan at the first check (see plan_movement)
        return EpochSampler(len(self.pairs), cfg.batch_size, cfg.seed, lengths=lengths)

    @property
    def transports(self) -> bool:
        return transports(self.config.objective)

    @property
    def plan_states_needed(self) -> bool:
        """Whether the transport term solves its plan on states of a layer other than the loss's."""
        layer = self.config.plan_states_layer
        return self.transports and layer is not None and layer != self.teacher.num_layers

    def _statistical_plans(self) -> list[torch.Tensor]:
        """The statistical plan of every training pair (computed once: it is fixed)."""
        cfg = self.config
        t_ids = self.teacher_cache[self.teacher.num_layers].input_ids
        if cfg.frozen_layers:
            s_ids = self.student_cache[cfg.frozen_layers].input_ids
        else:
            s_ids = [torch.tensor(ids) for ids in self.student.tokenizer(self.student.prepare(self.target, "passage"),
                                                                         truncation=True, max_length=cfg.max_length)["input_ids"]]

        def mask(encoder, ids):
            return self.content_mask(encoder, ids.unsqueeze(0), torch.ones(1, len(ids), dtype=torch.bool))[0]

        key = ("statistical-plans", self.teacher.spec.path, self.student.spec.path, cfg.max_length, cfg.drop_special,
               cfg.drop_punctuation, texts_key([e + "\t" + t for e, t in self.pairs]))
        return frozen_states(key, lambda: statistical_plans(
            self.pairs, self.teacher, self.student, t_ids, s_ids, [mask(self.teacher, i) for i in t_ids],
            [mask(self.student, i) for i in s_ids]))

    def progress_label(self) -> str:
        return f"{self.config.objective} {self.config.language}"

    def extra_state(self) -> dict:
        return {"term_weights": dict(self.term_weights)}

    def checkpoint_state(self) -> dict:
        return {"reference_plan": self.reference_plan}

    def load_extra_state(self, state: dict) -> None:
        self.term_weights = dict(state.get("term_weights", self.term_weights))
        self.reference_plan = state.get("reference_plan", self.reference_plan)

    def batch_losses(self) -> dict[str, torch.Tensor]:
        batch = self.sampler.next_batch()[self.rank::self.world]
        return self.losses(batch)

    def _stack(self, cache, rows):
        from otclir.models.encoder import pad_states

        return pad_states([cache.states[i] for i in rows], [cache.input_ids[i] for i in rows])

    def states_of(self, rows: list[int], module=None) -> TermStates:
        """One batch of the states the objective's terms read, for the pairs ``rows``."""
        cfg = self.config
        module = module or self.module
        device = self.student.device
        last = self.teacher.num_layers
        t_hidden, t_attention, t_ids = (x.to(device) for x in self._stack(self.teacher_cache[last], rows))
        if cfg.frozen_layers:
            s_in, s_attention, s_ids = (x.to(device) for x in self._stack(self.student_cache[cfg.frozen_layers], rows))
            hidden = module(s_in, s_attention, output_hidden_states=True)  # layers frozen_layers..last
        else:
            batch = self.student.tokenize([self.target[i] for i in rows], kind="passage")
            s_ids, s_attention = batch["input_ids"], batch["attention_mask"].bool()
            out = module(input_ids=s_ids, attention_mask=batch["attention_mask"], output_hidden_states=True)
            hidden = list(out.hidden_states)
        s_hidden = hidden[-1]
        states = TermStates(
            teacher_tokens=t_hidden, teacher_mask=self.content_mask(self.teacher, t_ids, t_attention),
            student_tokens=s_hidden, student_mask=self.content_mask(self.student, s_ids, s_attention),
            teacher_sentences=self.student.mean_pool(t_hidden, t_attention, normalize=False),
            student_sentences=self.student.mean_pool(s_hidden, s_attention, normalize=False))
        if self.plan_states_needed:
            layer = cfg.plan_states_layer
            t_plan = self._stack(self.teacher_cache[layer], rows)[0].to(device)
            if layer <= cfg.frozen_layers:  # a fixed plan: frozen states
                s_plan = self._stack(self.student_cache[layer], rows)[0].to(device)
            else:  # an adaptive plan below the last layer: the student's states there, as they are now
                s_plan = hidden[layer - cfg.frozen_layers]
            states.plan_tokens = (t_plan, s_plan)
        if self.given_plans is not None:
            plans = [self.given_plans[i] for i in rows]
            given = torch.zeros(len(rows), t_hidden.shape[1], s_hidden.shape[1])
            for k, plan in enumerate(plans):
                given[k, :plan.shape[0], :plan.shape[1]] = plan
            states.given_plan = given.to(device)
        if self.world > 1 and needs(cfg.objective, "candidates"):  # the whole batch's translations are the negatives
            import torch.distributed.nn.functional as dist_fn

            states.candidates = torch.cat(dist_fn.all_gather(states.student_sentences), 0)
            states.offset = self.rank * len(rows)
        return states

    def term_losses(self, rows: list[int], module=None) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
        """Each term's loss on the pairs ``rows`` (unweighted) and the step's diagnostics."""
        states = self.states_of(rows, module)
        terms, diagnostics = {}, alignment_and_uniformity(states.student_sentences, states.teacher_sentences)
        for term in self.terms:
            terms[term.name], found = term.loss(states, self.config)
            diagnostics.update(found)
        return terms, diagnostics

    def losses(self, rows: list[int]) -> dict[str, torch.Tensor]:
        terms, diagnostics = self.term_losses(rows)
        total = sum(self.term_weights[name] * self.user_weight(name) * value for name, value in terms.items())
        return {**terms, **diagnostics, "loss": total}

    def user_weight(self, term: str) -> float:
        """The term's weight setting (``ot_weight``, ``mse_weight``, ``contrastive_weight``)."""
        return getattr(self.config, next(t.weight_setting for t in self.terms if t.name == term))

    def term_gradient_norms(self, rows: list[int]) -> dict[str, float]:
        """The gradient norm of each term alone over the trained weights, on one batch (through the
        module without DDP: nothing is synchronised or accumulated)."""
        params = [p for p in self.student.model.parameters() if p.requires_grad]
        terms, _ = self.term_losses(rows, module=self.plain_module)
        norms = {}
        for name, value in terms.items():
            grads = torch.autograd.grad(value, params, retain_graph=True, allow_unused=True)
            norms[name] = float(torch.sqrt(sum((g.double() ** 2).sum() for g in grads if g is not None)))
        return norms

    def _probe_batches(self) -> list[list[int]]:
        """Fixed batches for balancing and gradient diagnostics (their own seeded draw)."""
        probe = EpochSampler(len(self.pairs), self.config.batch_size, self.config.seed + 1000)
        return [probe.next_batch()[self.rank::self.world] for _ in range(self.config.balance_batches)]

    def before_training(self) -> None:
        cfg = self.config
        if not (cfg.balance_losses and len(cfg.terms) > 1):
            return
        totals = torch.zeros(len(cfg.terms), dtype=torch.float64)
        for rows in self._probe_batches():
            norms = self.term_gradient_norms(rows)
            totals += torch.tensor([norms[t] for t in cfg.terms], dtype=torch.float64)
        if self.world > 1:
            torch.distributed.all_reduce(totals)
        mean = float(totals.mean())
        self.term_weights = {t: mean / max(float(n), 1e-12) for t, n in zip(cfg.terms, totals)}

    def start_record(self) -> dict:
        return {f"weight_{k}": v for k, v in self.term_weights.items()} | self.plan_movement()

    def diagnose(self) -> dict:
        rows = self._probe_batches()[0]
        return {f"grad_norm_{k}": v for k, v in self.term_gradient_norms(rows).items()} | self.plan_movement()

    def plan_movement(self) -> dict:
        """Does the plan move? The plan of one fixed probe batch (no dropout), its entropy, and its
        total-variation distance from the same batch's plan at the first check (0: the plan is a
        constant of the pair, as a fixed or statistical plan is)."""
        if not self.transports:
            return {}
        from otclir.models.encoder import eval_mode
        from otclir.transport.ot import plan_diagnostics

        rows = self._probe_batches()[0]
        with torch.no_grad(), eval_mode(self.student.model):
            states = self.states_of(rows, module=self.plain_module)
            TERMS[TRANSPORT_TERM].loss(states, self.config)
        plan = states.extra["plan"].float().cpu()
        if self.reference_plan is None:
            self.reference_plan = plan
        shift = 0.5 * (plan - self.reference_plan).abs().sum(dim=(1, 2)).mean()
        found = plan_diagnostics(plan, states.teacher_mask.cpu(), states.student_mask.cpu())
        return {"probe_plan_entropy": found["plan_entropy"], "plan_shift": float(shift)}

    # -------------------------------------------------------------- dev signals
    def dev_data(self):
        """The dev task (sampled queries and documents), the teacher's query vectors, the teacher's
        vectors of each document verse in English (the bitext signal's targets) and the frozen
        layers' outputs for the documents."""
        if self._dev is None:
            cfg = self.config
            key = ("dev", self.teacher.spec.path, self.teacher.spec.delta, self.student.spec.path, cfg.max_length,
                   cfg.language, cfg.query_language, cfg.dev_queries, cfg.dev_docs, cfg.dev_sample_seed,
                   cfg.frozen_layers, cfg.dev_task)
            self._dev = frozen_states(key, self._dev_data)
        return self._dev

    def _dev_data(self):
        from otclir.data.bible import parse_verse_id, read_language
        from otclir.data.tasks import bible_tasks

        cfg = self.config
        task = bible_tasks([cfg.dev_task], cfg.language, "dev", cfg.query_language, max_queries=cfg.dev_queries,
                           max_docs=cfg.dev_docs, seed=cfg.dev_sample_seed)[cfg.dev_task]
        queries = self.teacher.encode([task.queries[q] for q in task.queries], kind="query")
        english = read_language(cfg.query_language)
        doc_english = self.teacher.encode([english[parse_verse_id(d)] for d in task.docs], kind="passage")
        docs = [task.docs[d] for d in task.docs]
        lower = self.student.lower_states(docs, "passage", cfg.frozen_layers) if cfg.frozen_layers else None
        return task, queries, doc_english, docs, lower

    def evaluate_dev(self) -> dict[str, float]:
        from otclir.retrieval.dense import bitext_signals, dev_scores

        task, queries, doc_english, docs, lower = self.dev_data()
        if lower is not None:  # only the trained layers run (encode_* switch dropout off and back)
            doc_vectors = self.student.encode_tokens(None, "passage", lower=lower).pooled
        else:
            doc_vectors = self.student.encode(docs, kind="passage")
        out = dev_scores(task, queries, doc_vectors)
        out.update({f"dev_bitext_{k}": v for k, v in bitext_signals(doc_vectors, doc_english).items()})
        if self.gold_aer is not None:  # does the plan align words? (moves only with an adaptive plan)
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                out["plan_aer"] = self.gold_aer(self.teacher, self.student)
        return out
