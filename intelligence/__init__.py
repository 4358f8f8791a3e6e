"""Engagement scoring, ML models, the LLM client and AI assistance (SPEC 7, 18, 19)."""
