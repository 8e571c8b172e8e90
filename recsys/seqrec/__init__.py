"""Sequential recommenders: SASRec (CE, BCE), gSASRec, BERT4Rec, baselines, metrics and the agent tool.

Modules, one job each:

- ``data``: per-user sequences, id remap with pad 0, leave-one-out split.
- ``sampling``: training batches and negatives, driven by an explicit ``torch.Generator``.
- ``model`` / ``bert4rec``: the networks. ``losses``: CE, BCE, gBCE, Cloze as pure functions.
- ``baselines``: popularity and item-kNN.
- ``metrics`` / ``evaluate``: ranks -> HR/NDCG/MRR; full ranking and labelled sampled protocols.
- ``train``: the training loop (early stopping, checkpoint/resume, AMP, accelerate).
- ``recommender``: the ``Recommender`` contract, the ``RECOMMENDERS`` registry, save/load (safetensors + JSON).
- ``tool``: the agent tool ``recommend(history, k, filters, exclude, boosts)``, batched.
- ``cli``: ``tastebud train seqrec``.
"""
