"""``stackaudit server``: a Language Server publishing stackaudit's findings to editors.

The whole workspace is analysed, as ``check`` analyses a tree, with the text of the
documents open in the editor in place of what is on the disk (``engine.run``'s
overlay), so a finding in one file that rests on another (a compose port behind an
nginx route) follows edits to either. Modules, one job each:

- ``settings``: the workspace root's configuration, read as ``check`` reads it;
- ``positions``: stackaudit's spans (1-based, in characters) to LSP ranges (0-based, in
  the negotiated code units);
- ``convert``: findings to LSP diagnostics, edits to workspace edits;
- ``actions``: quick fixes and "ignore on this line" (``suppressing``: where such a
  comment is sure to do just that);
- ``analysis``: one analysis of the workspace with the editor's texts, and its findings
  by file;
- ``server``: the pygls wiring, and the debounced re-analysis in a thread off the event
  loop.

pygls is imported only here: ``check`` never pays for it."""
