"""One module per section of a page; each draws with render()."""
