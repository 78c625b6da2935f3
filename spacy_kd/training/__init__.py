"""Training: distillation losses, the pseudo-label record, the student's corpus reader,
callbacks and logger. Registered through entry points in setup.py; nothing heavy
(no torch) is imported here.
"""
