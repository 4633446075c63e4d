"""Answering queries: dense, lexical and fused rankings, and measuring them."""
