"""Registered thinc architectures (through entry points in setup.py).

``pytorch/`` holds the plain torch modules; importing this package stays cheap:
torch is only imported by the modules that need it.
"""
