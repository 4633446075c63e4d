"""Limits of what is read, in a module of its own: the query path (``render``,
``SearchIndex.changed_files``) needs them without importing ``decoding`` and its parsers."""

DEFAULT_MAX_BYTES = 50 * 1024 * 1024  # a mailbox, read a message at a time, has none
# An Evernote export, read whole: mostly the base64 of the files its notes hold (a notebook of
# two notes and a video was 54 MB), each note's freed once it is read.
ENEX_MAX_BYTES = 1024 * 1024 * 1024

# Minified or generated text: most of it on lines this long (no person writes a 5,000-character
# line; a soft-wrapped paragraph is rarely a tenth of that), in a file at least this large.
GENERATED_LINE_CHARS = 5000
