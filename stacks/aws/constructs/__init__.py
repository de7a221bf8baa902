"""Reusable constructs, one concern each; stacks only compose them."""
