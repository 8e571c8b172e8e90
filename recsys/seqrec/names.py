"""Names of the registered recommenders, test protocols, samplers and loss normalisations.

Kept apart from the modules that define them (which import torch) so ``tastebud train seqrec
--help`` lists the choices without importing torch; each defining module checks its registry
against these names at import.
"""

RECOMMENDER_NAMES = ("sasrec-ce", "sasrec-bce", "gsasrec", "bert4rec", "pop", "itemknn")
PROTOCOLS = ("full", "full_unmasked", "sampled_uniform", "sampled_popularity")
SAMPLERS = ("windows", "users")
LOSS_NORMS = ("batch", "epoch")
