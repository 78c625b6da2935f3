"""Pseudo-annotation: teachers label an unlabelled corpus into DocBin shards.

pseudo.py    the pseudo-label record every annotated doc carries (read by distillation)
teachers.py  teacher pipelines: loading, checking them against each other, running them
weights.py   teacher weights fitted on labelled dev data
manifest.py  an output folder: the run's manifest and its shard files
run.py       ``annotate``: runs, shards, resume; the local engine
ray_engine.py  the Ray engine: the same shards in actors, on one machine or a cluster
merge.py     ``annotate-merge``: runs of different teachers over one input as one run
summary.py   a run's summary: counts, labels, confidence, agreement, speed, calibration
"""
