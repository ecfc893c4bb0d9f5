"""How a command line is read: shell words and control flow, each tool's options, and which
words start a server (``ServeCommand``).

Extractors use it on the text of one file; the model uses it again where a command is only
known once files are put together (an image's ENTRYPOINT with a compose ``command:``)."""
