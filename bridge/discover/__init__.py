"""Finding out what a site is: its CMS family and what kind of page a URL shows (pure
functions over a parsed page), and ``probe``, which reads one page as a source would."""
