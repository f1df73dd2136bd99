"""The alert-rule query language: parse, normalise, evaluate, prefilter.

The public entry point is :mod:`pipeline.stages.match`; modules here are its parts.
"""
