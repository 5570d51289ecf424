"""Flow Propagate: copying into the hole what other frames saw, traced along completed flow.

``whole_clip`` runs it over a clip held in memory (the node); ``stream`` over a stream of any length in
bounded memory (the CLI); both trace hole pixels through time with ``trace`` and smooth the seams between
copies with ``poisson``.
"""
