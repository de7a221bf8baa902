"""Pulumi policy packs the kit ships."""
