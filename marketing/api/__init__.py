"""Segments over REST: views, serializers (shape only) and the urlconf under /api/v1/."""
