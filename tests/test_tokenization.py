from otclir.models.tokenization import load_tokenizer, subword_stats


def test_fertility_counts_pieces_per_word():
    tokenizer = load_tokenizer("minilm-teacher")
    stats = subword_stats(tokenizer, ["Jesus wept.", "In the beginning"])
    pieces = sum(len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in ["Jesus wept.", "In the beginning"])
    assert stats["words"] == 5 and stats["pieces"] == pieces
    assert stats["fertility"] == pieces / 5
    assert stats["split_word_rate"] == 1 / 5  # only "wept." is cut (word + full stop)


def test_unknown_pieces_are_counted():
    teacher = load_tokenizer("minilm-teacher")
    student = load_tokenizer("e5-small-student")
    text = ["\U00013000\U00013001 word"]  # Egyptian hieroglyphs: in neither vocabulary
    assert subword_stats(teacher, text)["unk_rate"] > 0
    assert subword_stats(student, text)["unk_rate"] > 0
    assert subword_stats(student, ["In the beginning"])["unk_rate"] == 0
