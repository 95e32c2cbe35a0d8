"""Optional adapters for training frameworks (torch, keras, tf), each imported lazily.

Importing :mod:`imgbatch` never imports a framework; an adapter module imports its framework
only when it is itself imported.
"""
