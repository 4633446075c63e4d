"""Reading files into documents and chunks, and the pipeline that embeds and stores them."""
