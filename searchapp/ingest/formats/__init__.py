"""Text out of documents that are not plain text: PDF, Word, PowerPoint, OpenDocument, EPUB,
Jupyter notebooks and Markdown.

``decoding.load_documents`` calls ``dispatch`` (formats are detected by their content, Markdown by
its name). Each extractor returns a ``LocatedText``: the document's text as one string (its units
— pages, slides, cells, chapters, paragraphs — joined with blank lines, so chunking treats it as
any text) and ``Span``s that say which page or section each stretch of it came from; ``locate``
answers that for a chunk's ``start_char``. A file that cannot be extracted raises
``decoding.NotTextError`` with the reason, as a binary file does.

This module imports nothing, so that ``decoding`` can import ``spans`` without a cycle.
"""
