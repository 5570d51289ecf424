"""Many shots at once: a shot list run through the CLI's streaming engine, locally or on a Ray cluster.

``batch_inpaint.py`` is the entry point; :mod:`batch.shots` reads the list, :mod:`batch.worker`
runs one shot, :mod:`batch.local` and :mod:`batch.ray_cluster` fan the shots out, and
:mod:`batch.report` shows progress and the summary. Ray is optional: only ``--ray`` imports it.
"""
