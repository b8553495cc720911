"""One encoder wrapper for teacher and student: token states with masks, mean-pooled L2-normalised
sentence embeddings, and the token vectors late interaction scores, batched by length.

A distilled student whose lowest layers were frozen in training shares them with its base model,
so their outputs can be computed once and reused by every such student (:meth:`Encoder.lower_states`
then ``encode_tokens(..., lower=...)``): only the trained upper layers run per student.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np

from otclir.errors import OtclirError
from otclir.models.registry import ModelSpec, resolve

KINDS = ("query", "passage", None)
PROGRESS_THRESHOLD = 2000  # show a progress bar from this many texts on


@dataclass
class EncodedTexts:
    """Sentence embeddings of N texts and, for late interaction, their content token vectors:
    token vectors of text i are ``tokens[offsets[i]:offsets[i + 1]]`` (L2-normalised, float16,
    special tokens and e5's prefix left out)."""

    pooled: np.ndarray  # (N, H) float32, L2-normalised mean over every real token
    tokens: np.ndarray  # (T, H) float16
    offsets: np.ndarray  # (N + 1,) int64

    def __len__(self) -> int:
        return len(self.pooled)

    @property
    def token_bytes(self) -> int:
        return int(self.tokens.nbytes + self.offsets.nbytes)

    def subset(self, rows: Sequence[int]) -> "EncodedTexts":
        rows = list(rows)
        pieces = [self.tokens[self.offsets[i]:self.offsets[i + 1]] for i in rows]
        lengths = np.array([len(p) for p in pieces], dtype=np.int64)
        tokens = np.concatenate(pieces) if pieces else self.tokens[:0]
        return EncodedTexts(self.pooled[rows], tokens, np.concatenate([[0], np.cumsum(lengths)]))


@dataclass
class LowerStates:
    """Hidden states after layer ``layer`` of N texts (the frozen part of a student), with the input
    ids and attention masks that produced them; ``encode_tokens(..., lower=...)`` runs the rest."""

    layer: int
    base: str  # path of the base weights that computed them
    states: list  # per text: (L_i, H) float32 tensor
    input_ids: list  # per text: (L_i,) long tensor


def upper_layers(model, start: int, stop: int | None = None):
    """Layers ``start``..``stop`` of a BERT-style encoder as one module (hidden states at layer
    ``start`` and the attention mask in, the states after ``stop`` out, or every layer's with
    ``output_hidden_states``); DDP can wrap it in place of the whole model."""
    import torch

    class UpperLayers(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model
            self.start, self.stop = start, stop

        def forward(self, hidden, attention_mask, output_hidden_states: bool = False):
            mask, _ = self.model._create_attention_masks(
                attention_mask=attention_mask.long(), encoder_attention_mask=None, embedding_output=hidden,
                encoder_hidden_states=None, cache=None)
            states = [hidden]
            for layer in self.model.encoder.layer[self.start:self.stop]:
                out = layer(states[-1], attention_mask=mask)
                states.append(out[0] if isinstance(out, tuple) else out)
            return states if output_hidden_states else states[-1]

    return UpperLayers()


class Encoder:
    """``Encoder("e5-small-student")``, ``Encoder("minilm-teacher")`` or any Hugging Face name/path.

    ``kind="query"``/``"passage"`` adds e5's ``query: ``/``passage: `` prefix when the model was
    trained with them (``prefixes`` overrides); ``kind=None`` never adds one.
    """

    def __init__(self, model: str | ModelSpec, device: str = "cpu", max_length: int | None = None,
                 prefixes: bool | None = None):
        import torch
        import transformers
        from transformers import AutoModel

        transformers.logging.set_verbosity_error()  # load reports and bars would flood notebook outputs
        transformers.logging.disable_progress_bar()
        self.spec = model if isinstance(model, ModelSpec) else resolve(model)
        self.device = torch.device(device)
        self.tokenizer = _tokenizer(self.spec.path)
        self.model = AutoModel.from_pretrained(self.spec.path).to(self.device).eval()
        if self.spec.delta:
            from safetensors.torch import load_file

            loaded = self.model.load_state_dict(load_file(self.spec.delta), strict=False)
            if loaded.unexpected_keys:
                raise ValueError(f"{self.spec.delta} holds weights the base model lacks: {loaded.unexpected_keys[:5]}")
        self.max_length = max_length or min(self.spec.max_length, self.tokenizer.model_max_length)
        self.prefixes = self.spec.prefixes if prefixes is None else prefixes
        self._special = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    @property
    def num_layers(self) -> int:
        return int(self.model.config.num_hidden_layers)

    def prepare(self, texts: Sequence[str], kind: str | None) -> list[str]:
        if kind not in KINDS:
            raise ValueError(f"kind must be 'query', 'passage' or None, got {kind!r}")
        texts = [texts] if isinstance(texts, str) else list(texts)
        if self.prefixes and kind:
            return [f"{kind}: {t}" for t in texts]
        return texts

    def prefix_length(self, kind: str | None) -> int:
        """Pieces of the ``kind: `` prefix after the first special token (0 without prefixes)."""
        if not (self.prefixes and kind):
            return 0
        bare = self.tokenizer("x", add_special_tokens=False)["input_ids"]
        with_prefix = self.tokenizer(f"{kind}: x", add_special_tokens=False)["input_ids"]
        return len(with_prefix) - len(bare)

    def content_mask(self, input_ids, attention_mask, kind: str | None):
        """Real tokens without special tokens and without the e5 prefix: what late interaction and
        transport see. A text left with nothing keeps its real tokens."""
        import torch

        if self._special is None:
            self._special = torch.tensor(sorted(self.tokenizer.all_special_ids))
        keep = attention_mask.bool() & ~torch.isin(input_ids, self._special.to(input_ids.device))
        skip = self.prefix_length(kind)
        if skip:
            keep[:, 1:1 + skip] = False
        return torch.where(keep.any(1, keepdim=True), keep, attention_mask.bool())

    def tokenize(self, texts: Sequence[str], kind: str | None = None, max_length: int | None = None):
        return self.tokenizer(self.prepare(texts, kind), padding=True, truncation=True,
                              max_length=max_length or self.max_length, return_tensors="pt").to(self.device)

    def forward_tokens(self, batch):
        """Last hidden states (B, L, H) and the attention mask (B, L) as booleans; keeps gradients."""
        out = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        return out.last_hidden_state, batch["attention_mask"].bool()

    def token_embeddings(self, texts: Sequence[str], kind: str | None = None, max_length: int | None = None):
        """(hidden states, mask, input ids) of one padded batch, without gradients."""
        import torch

        texts = self._check_texts(texts)
        if not texts:
            raise OtclirError("token_embeddings needs at least one text")
        batch = self.tokenize(texts, kind, max_length)
        with torch.inference_mode():
            hidden, mask = self.forward_tokens(batch)
        return hidden, mask, batch["input_ids"]

    def embed_words(self, sentences: Sequence[Sequence[str]], layer: int | None = None,
                    max_length: int | None = None):
        """Contextual embeddings of pre-split words: per sentence, the (pieces, H) embeddings of its
        word pieces (special tokens left out) and the word index of each piece."""
        import torch

        batch = self.tokenizer([list(s) for s in sentences], is_split_into_words=True, padding=True,
                               truncation=True, max_length=max_length or self.max_length, return_tensors="pt")
        with torch.inference_mode():
            out = self.model(input_ids=batch["input_ids"].to(self.device),
                             attention_mask=batch["attention_mask"].to(self.device),
                             output_hidden_states=layer is not None)
        hidden = out.last_hidden_state if layer is None else out.hidden_states[layer]
        result = []
        for i in range(len(sentences)):
            word_ids = batch.word_ids(i)
            keep = [p for p, w in enumerate(word_ids) if w is not None]
            result.append((hidden[i, keep].float().cpu(), [word_ids[p] for p in keep]))
        return result

    @staticmethod
    def mean_pool(hidden, mask, normalize: bool = True):
        import torch

        weights = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        return torch.nn.functional.normalize(pooled, dim=-1) if normalize else pooled

    # ------------------------------------------------------------------ batched encoding
    def pool(self, hidden, mask, normalize: bool = True):
        """The sentence vector the model was trained to give: the first token's state for ``cls``
        pooling, else the mean over real tokens (what the trainers distil and contrast)."""
        import torch

        if self.spec.pooling == "cls":
            first = hidden[:, 0]
            return torch.nn.functional.normalize(first, dim=-1) if normalize else first
        return self.mean_pool(hidden, mask, normalize)

    def _length_order(self, prepared: list[str]) -> np.ndarray:
        lengths = [len(ids) for ids in self.tokenizer(prepared, truncation=True, max_length=self.max_length)["input_ids"]]
        return np.argsort(lengths, kind="stable")[::-1]  # longest first: memory peaks early

    def _check_texts(self, texts) -> list[str]:
        texts = [texts] if isinstance(texts, str) else list(texts)
        bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
        if bad:
            raise OtclirError(f"texts must be strings; item {bad[0]} is {type(texts[bad[0]]).__name__}")
        return texts

    def _passes(self, texts, kind, batch_size, show_progress, lower: LowerStates | None = None):
        """Yield (rows, last hidden states, attention mask, input ids) batch by batch, longest first."""
        import torch
        from tqdm.auto import tqdm

        if lower is not None:
            n = len(lower.states)
            order = np.argsort([len(s) for s in lower.states], kind="stable")[::-1]
            top = upper_layers(self.model, lower.layer)
        else:
            prepared = self.prepare(self._check_texts(texts), kind)
            n = len(prepared)
            order = self._length_order(prepared) if n else np.zeros(0, dtype=np.int64)
        show = n >= PROGRESS_THRESHOLD if show_progress is None else show_progress
        bar = tqdm(total=n, desc=f"encode {self.name}", disable=not show, leave=False)
        with torch.inference_mode(), eval_mode(self.model):
            for start in range(0, n, batch_size):
                rows = order[start:start + batch_size]
                if lower is not None:
                    hidden, mask, ids = pad_states([lower.states[i] for i in rows], [lower.input_ids[i] for i in rows])
                    hidden = top(hidden.to(self.device), mask.to(self.device))
                    mask, ids = mask.to(self.device), ids.to(self.device)
                else:
                    batch = self.tokenizer([prepared[i] for i in rows], padding=True, truncation=True,
                                           max_length=self.max_length, return_tensors="pt").to(self.device)
                    hidden, mask = self.forward_tokens(batch)
                    ids = batch["input_ids"]
                yield rows, hidden, mask, ids
                bar.update(len(rows))
        bar.close()

    def encode(self, texts: Sequence[str] | None, kind: str | None = "passage", batch_size: int = 64,
               show_progress: bool | None = None, normalize: bool = True, lower: LowerStates | None = None) -> np.ndarray:
        """Sentence embeddings (N, H) as float32, in the input order. With ``lower`` (states of this
        model's frozen layers, see :meth:`lower_states`) only the layers above them run."""
        if lower is not None:
            self._check_lower(lower)
            n = len(lower.states)
        else:
            texts = self._check_texts(texts)
            n = len(texts)
        out = np.zeros((n, self.dim), dtype=np.float32)
        for rows, hidden, mask, _ in self._passes(texts, kind, batch_size, show_progress, lower):
            out[rows] = self.pool(hidden, mask, normalize).float().cpu().numpy()
        return out

    def _check_lower(self, lower: LowerStates) -> None:
        if lower.layer > self.shared_layers or lower.base != self.spec.path:
            raise OtclirError(f"{self.name} shares its lowest {self.shared_layers} layers with {self.spec.path}; "
                              f"states after layer {lower.layer} of {lower.base} cannot stand in for them")

    def encode_tokens(self, texts: Sequence[str] | None, kind: str | None = "passage", batch_size: int = 64,
                      show_progress: bool | None = None, lower: LowerStates | None = None) -> EncodedTexts:
        """Sentence embeddings and content token vectors in one pass. With ``lower`` (states of this
        model's frozen layers, see :meth:`lower_states`) only the layers above them run."""
        import torch

        if lower is not None:
            self._check_lower(lower)
            n = len(lower.states)
        else:
            texts = self._check_texts(texts)
            n = len(texts)
        pooled = np.zeros((n, self.dim), dtype=np.float32)
        pieces: list = [None] * n
        for rows, hidden, mask, ids in self._passes(texts, kind, batch_size, show_progress, lower):
            pooled[rows] = self.pool(hidden, mask).float().cpu().numpy()
            content = self.content_mask(ids, mask, kind)
            vectors = torch.nn.functional.normalize(hidden, dim=-1).to(torch.float16).cpu()
            for j, row in enumerate(rows):
                pieces[row] = vectors[j][content[j].cpu()].numpy()
        lengths = np.array([len(p) for p in pieces], dtype=np.int64)
        tokens = np.concatenate(pieces) if n else np.zeros((0, self.dim), dtype=np.float16)
        return EncodedTexts(pooled, tokens, np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))

    def lower_states(self, texts: Sequence[str], kind: str | None, layer: int, batch_size: int = 64,
                     show_progress: bool | None = None) -> LowerStates:
        """Hidden states after ``layer`` (0: the embeddings) of every text, without gradients; any
        student that froze at least ``layer`` layers of these weights continues from them."""
        return self.hidden_states(texts, kind, [layer], batch_size, show_progress)[layer]

    def hidden_states(self, texts: Sequence[str], kind: str | None, layers: Sequence[int], batch_size: int = 64,
                      show_progress: bool | None = None) -> dict[int, LowerStates]:
        """Hidden states after each of ``layers`` (0: the embeddings; the last layer's are the
        output) of every text, in one pass without gradients and without dropout."""
        import torch
        from tqdm.auto import tqdm

        for layer in layers:
            if not 0 <= layer <= self.num_layers:
                raise OtclirError(f"layer must be in 0..{self.num_layers}, got {layer}")
            if layer > self.shared_layers:
                raise OtclirError(f"{self.name} trained its layers above {self.shared_layers}; its states after "
                                  f"layer {layer} are its own and cannot stand in for another model's")
        prepared = self.prepare(self._check_texts(texts), kind)
        order = self._length_order(prepared) if prepared else []
        out = {layer: LowerStates(layer, self.spec.path, [None] * len(prepared), [None] * len(prepared)) for layer in layers}
        show = len(prepared) >= PROGRESS_THRESHOLD if show_progress is None else show_progress
        bar = tqdm(total=len(prepared), desc=f"states {self.name}", disable=not show, leave=False)
        with torch.inference_mode(), eval_mode(self.model):
            for start in range(0, len(order), batch_size):
                rows = order[start:start + batch_size]
                batch = self.tokenizer([prepared[i] for i in rows], padding=True, truncation=True,
                                       max_length=self.max_length, return_tensors="pt").to(self.device)
                states = lower_forward(self.model, batch["input_ids"], batch["attention_mask"], max(layers),
                                       all_states=True)
                for j, row in enumerate(rows):
                    length = int(batch["attention_mask"][j].sum())
                    ids = batch["input_ids"][j, :length].cpu().clone()
                    for layer in layers:
                        out[layer].states[row] = states[layer][j, :length].float().cpu().clone()
                        out[layer].input_ids[row] = ids
                bar.update(len(rows))
        bar.close()
        return out

    @property
    def shared_layers(self) -> int:
        """How many of the lowest layers hold the base weights: all of them for a model that was not
        distilled here, the frozen ones for a distilled student."""
        return self.spec.frozen_layers if self.spec.delta else self.num_layers


@lru_cache(maxsize=8)
def _tokenizer(path: str):
    """Tokenizers are read once per process (parsing XLM-R's takes seconds) and shared."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path)


@contextmanager
def eval_mode(model):
    """Run ``model`` without dropout, then give every submodule back its own training flag (a
    student in training keeps its frozen layers in eval mode)."""
    flags = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for module, training in flags:
            module.training = training


def lower_forward(model, input_ids, attention_mask, layers: int, all_states: bool = False):
    """Hidden states after the embeddings and the lowest ``layers`` layers of a BERT-style model
    (with ``all_states``, the list of the embeddings' and each of those layers' states)."""
    hidden = model.embeddings(input_ids=input_ids)
    return upper_layers(model, 0, stop=layers)(hidden, attention_mask, output_hidden_states=all_states)


def pad_states(states: list, input_ids: list):
    """Stack per-text (L_i, H) states and (L_i,) ids into padded (B, L, H), mask (B, L) and ids (B, L)."""
    import torch

    length = max(len(s) for s in states)
    hidden = states[0].new_zeros((len(states), length, states[0].shape[1]))
    mask = torch.zeros(len(states), length, dtype=torch.bool)
    ids = torch.zeros(len(states), length, dtype=torch.long)
    for i, (s, t) in enumerate(zip(states, input_ids)):
        hidden[i, :len(s)] = s
        mask[i, :len(s)] = True
        ids[i, :len(t)] = t
    return hidden, mask, ids
