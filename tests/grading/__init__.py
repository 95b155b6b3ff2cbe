"""Grading tests for the exercises in exercises/ (see exercises/README.md)."""
