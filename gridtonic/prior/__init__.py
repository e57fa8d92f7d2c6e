"""Introspection: the prior of pattern probabilities (``database``), corpus readers (``corpus``,
``drums``), the sampler that generates a track from another (``sampler``), held-out evaluation
(``evaluation``) and the ``gridtonic prior|generate`` verbs (``commands``).

Imports ``core`` and ``io``. ``data/prior.sqlite`` is the shipped prior.
"""
