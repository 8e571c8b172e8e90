"""Tastebud's recommender side: catalogs, assets, retrieval, sequential recommenders, metrics."""
