"""SkillPulse ingest: job postings in, skill insights out."""

__version__ = "0.1.0"
