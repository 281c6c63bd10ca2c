"""The project's benchmark: the Kafka pipeline against the Channels-tutorial baseline.

``python -m bench --help`` (or ``make bench`` for the short default run). See docs/performance.md.
"""
