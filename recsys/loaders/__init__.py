"""Catalog loaders: RecBole atomic files, official MovieLens zips, and the generic format."""
