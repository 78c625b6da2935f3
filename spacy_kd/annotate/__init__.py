"""Pseudo-annotation: teachers label an unlabelled corpus into DocBin shards.

pseudo.py    the pseudo-label record every annotated doc carries (read by distillation)
run.py       ``annotate``: runs, manifest, shards, resume, the summary
"""
