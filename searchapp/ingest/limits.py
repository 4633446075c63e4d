"""Limits of what is read, in a module of its own: the query path (``render``,
``SearchIndex.changed_files``) needs them without importing ``decoding`` and its parsers."""

DEFAULT_MAX_BYTES = 50 * 1024 * 1024  # a mailbox, read a message at a time, has none

# Minified or generated text: most of it on lines this long (no person writes a 5,000-character
# line; a soft-wrapped paragraph is rarely a tenth of that), in a file at least this large.
GENERATED_LINE_CHARS = 5000
