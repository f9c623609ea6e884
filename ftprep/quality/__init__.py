"""Data quality beyond the format: sensitive content (secrets and personal data) and
near-duplicate examples. Used by `validate` (FT9xx rules), `convert --redact` and `split`.

The detectors come from kept libraries (see `ftprep.quality.sensitive`); this package only
decides what to look for, how to position and mask what is found, and what replaces it.
"""
