"""The demo club for `make run`: a believable club's story (story.py), told through the real events
endpoint (seeding.py), and its owner login (club.py). Nothing outside demos and benchmarks imports it."""
