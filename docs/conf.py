"""Sphinx configuration of the series' website (``make site``; sources prepared by tools/site.py).

Sphinx with myst-nb and the book theme: it renders the notebooks from their committed outputs
(``nb_execution_mode = "off"``: nothing is executed, no kernel, no AWS, no emulator) and builds
offline, because the theme ships its assets in the wheel. Every asset the pages load is served
from the site itself, so a reader offline, and the browser check, see no failed request.
"""

import sys
from pathlib import Path

project = "AWS storage for data science"
author = "the maintainers"
copyright = "the maintainers, MIT licence"

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository, for tools.site
# tools.site folds the lessons' deep dives into <details> (myst-nb ignores JupyterLab's collapsed headings).
extensions = ["myst_nb", "tools.site"]
root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints"]

# The committed outputs are the content: render them as they are.
nb_execution_mode = "off"
nb_output_stderr = "show"
myst_enable_extensions = ["colon_fence"]
# GitHub's anchors (#the-lessons, #without-make-windows) resolve on the site as in the README.
myst_heading_anchors = 3

html_theme = "sphinx_book_theme"
html_title = "AWS storage for data science"
html_static_path = ["_static"]
html_favicon = "_static/favicon.svg"  # else browsers ask for /favicon.ico, a 404 on every visit
# The light/dark switch starts at "auto"; left empty, a first visit logs a console error.
html_context = {"default_mode": "auto"}
html_theme_options = {
    "show_toc_level": 2,
    "use_download_button": True,
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
}
html_show_sourcelink = False
html_last_updated_fmt = None
# MathJax (from a CDN) is added only to pages with math, and the series has none: the check fails
# on any request that leaves the site, so a formula added one day is noticed.
