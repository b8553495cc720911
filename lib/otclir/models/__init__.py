"""Models: what a model name means (``registry``), the student's weights rebuilt from their 4-bit
container (``student``), encoding texts and token states (``encoder``), tokenizer statistics and
content-token masks (``tokenization``)."""
