"""Distil an English retriever into a multilingual student on bitext with OPTICAL's transport loss.

    python examples/distil_bitext.py --student MODEL --teacher MODEL --bitext pairs.tsv --out DIR \
        [--queries q.tsv --docs d.tsv] [--epochs 1 --batch-size 16 --lr 2e-5 --mse-weight 1 --device cuda]

pairs.tsv holds one English sentence and its translation per line (tab-separated). With
--queries and --docs (id<TAB>text each) the trained student ranks the documents for every query
and writes DIR/run.txt; score it with `otclir eval QRELS DIR/run.txt`. Under torchrun the
trainer runs data-parallel with no change here.
"""
import argparse
import csv
from pathlib import Path

from datasets import Dataset
from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments

from otclir.data.trec import write_run
from otclir.losses import OptimalTransportDistillationLoss


def read_tsv(path, columns):
    with open(path, encoding="utf-8", newline="") as handle:
        rows = [row for row in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE) if row]
    bad = [n for n, row in enumerate(rows, 1) if len(row) != columns]
    if bad:
        raise SystemExit(f"{path}: line {bad[0]} has not {columns} tab-separated fields")
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--student", required=True)
    p.add_argument("--teacher", required=True)
    p.add_argument("--bitext", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--queries")
    p.add_argument("--docs")
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--max-steps", type=int, default=-1)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=2e-5)
    p.add_argument("--epsilon", type=float, default=0.05)
    p.add_argument("--mse-weight", type=float, default=0.0)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1, ... (default: what the trainer finds)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if bool(args.queries) != bool(args.docs):
        raise SystemExit("give --queries and --docs together, or neither")

    pairs = read_tsv(args.bitext, 2)
    student = SentenceTransformer(args.student, device=args.device)
    teacher = SentenceTransformer(args.teacher, device=args.device)
    student.max_seq_length = teacher.max_seq_length = args.max_length
    loss = OptimalTransportDistillationLoss(student, teacher, epsilon=args.epsilon, mse_weight=args.mse_weight)
    train = Dataset.from_dict({"english": [e for e, _ in pairs], "target": [t for _, t in pairs]})
    training = SentenceTransformerTrainingArguments(
        output_dir=str(Path(args.out) / "checkpoints"), num_train_epochs=args.epochs, max_steps=args.max_steps,
        per_device_train_batch_size=args.batch_size, learning_rate=args.lr, seed=args.seed, save_strategy="no",
        report_to=[], use_cpu=args.device == "cpu", logging_steps=10)
    trainer = SentenceTransformerTrainer(model=student, args=training, train_dataset=train, loss=loss)
    trainer.train()
    if not trainer.is_world_process_zero():  # under torchrun one process writes
        return
    student.save(str(Path(args.out) / "model"))
    print(f"trained on {len(pairs)} pairs; last batch: {loss.last_terms}; student in {Path(args.out) / 'model'}")

    if args.queries:
        queries, docs = read_tsv(args.queries, 2), read_tsv(args.docs, 2)
        q = student.encode([t for _, t in queries], normalize_embeddings=True, convert_to_tensor=True)
        d = student.encode([t for _, t in docs], normalize_embeddings=True, convert_to_tensor=True)
        scores = (q @ d.T).cpu().numpy()
        run = {qid: {did: float(s) for (did, _), s in zip(docs, row)} for (qid, _), row in zip(queries, scores)}
        print(f"run: {write_run(Path(args.out) / 'run.txt', run, tag='otclir-example')}")


if __name__ == "__main__":
    main()
