"""Generators of evaluation questions (templates, the local LLM, paraphrases) and the set builder's helpers.

Run once, offline; their output is data (JSONL) that `eval/build_set.py` merges into dev and test.
"""
