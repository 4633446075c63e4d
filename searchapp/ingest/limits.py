"""Limits of what is read, in a module of its own: the query path (``render``,
``SearchIndex.changed_files``) needs them without importing ``decoding`` and its parsers."""

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
# A mailbox (``formats/mbox.py``) is one file of years of mail: a Thunderbird folder or a Gmail
# export passes 50 MiB early. Read whole, it takes about twice its size in memory the first
# time; mail appended to it later is read alone (``decoding.appended_mail``).
MAILBOX_MAX_BYTES = 1024 * 1024 * 1024

# Minified or generated text: most of it on lines this long (no person writes a 5,000-character
# line; a soft-wrapped paragraph is rarely a tenth of that), in a file at least this large.
GENERATED_LINE_CHARS = 5000
