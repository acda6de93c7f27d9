"""The kv service: content-typed values under path-like keys, atomic, with compare-and-set."""
