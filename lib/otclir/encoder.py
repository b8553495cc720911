"""One encoder wrapper for teacher and student: token embeddings with masks, and mean-pooled,
L2-normalised sentence embeddings, batched by length."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .models import ModelSpec, resolve

KINDS = ("query", "passage", None)
PROGRESS_THRESHOLD = 2000  # show a progress bar from this many texts on


class Encoder:
    """``Encoder("e5-small-student")``, ``Encoder("minilm-teacher")`` or any Hugging Face name/path.

    ``kind="query"``/``"passage"`` adds e5's ``query: ``/``passage: `` prefix when the model was
    trained with them (``prefixes`` overrides); ``kind=None`` never adds one.
    """

    def __init__(self, model: str | ModelSpec, device: str = "cpu", max_length: int | None = None,
                 prefixes: bool | None = None):
        import torch
        import transformers
        from transformers import AutoModel, AutoTokenizer

        transformers.logging.set_verbosity_error()  # load reports and bars would flood notebook outputs
        transformers.logging.disable_progress_bar()
        self.spec = model if isinstance(model, ModelSpec) else resolve(model)
        self.device = torch.device(device)
        self.tokenizer = AutoTokenizer.from_pretrained(self.spec.path)
        self.model = AutoModel.from_pretrained(self.spec.path).to(self.device).eval()
        if self.spec.delta:
            from safetensors.torch import load_file

            loaded = self.model.load_state_dict(load_file(self.spec.delta), strict=False)
            if loaded.unexpected_keys:
                raise ValueError(f"{self.spec.delta} holds weights the base model lacks: {loaded.unexpected_keys[:5]}")
        self.max_length = max_length or min(self.spec.max_length, self.tokenizer.model_max_length)
        self.prefixes = self.spec.prefixes if prefixes is None else prefixes

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    def prepare(self, texts: Sequence[str], kind: str | None) -> list[str]:
        if kind not in KINDS:
            raise ValueError(f"kind must be 'query', 'passage' or None, got {kind!r}")
        texts = [texts] if isinstance(texts, str) else list(texts)
        if self.prefixes and kind:
            return [f"{kind}: {t}" for t in texts]
        return texts

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

    def encode(self, texts: Sequence[str], kind: str | None = "passage", batch_size: int = 64,
               show_progress: bool | None = None, normalize: bool = True) -> np.ndarray:
        """Sentence embeddings (N, H) as float32, in the input order."""
        import torch
        from tqdm.auto import tqdm

        prepared = self.prepare(texts, kind)
        if not prepared:
            return np.zeros((0, self.dim), dtype=np.float32)
        lengths = [len(ids) for ids in self.tokenizer(prepared, truncation=True, max_length=self.max_length)["input_ids"]]
        order = np.argsort(lengths, kind="stable")[::-1]  # longest first: memory peaks early
        out = np.zeros((len(prepared), self.dim), dtype=np.float32)
        show = len(prepared) >= PROGRESS_THRESHOLD if show_progress is None else show_progress
        bar = tqdm(total=len(prepared), desc=f"encode {self.name}", disable=not show, leave=False)
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                idx = order[start:start + batch_size]
                batch = self.tokenizer([prepared[i] for i in idx], padding=True, truncation=True,
                                       max_length=self.max_length, return_tensors="pt").to(self.device)
                hidden, mask = self.forward_tokens(batch)
                out[idx] = self.mean_pool(hidden, mask, normalize).float().cpu().numpy()
                bar.update(len(idx))
        bar.close()
        return out
