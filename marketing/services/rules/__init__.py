"""Segment rules (SPEC 8): the field registry, the rule grammar and its validator, the compiler."""
