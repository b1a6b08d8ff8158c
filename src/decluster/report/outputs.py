"""The names of the files a report writes beside the model (light to import: the command line's
checks of an output folder need them before anything is drawn)."""

CLUSTERS_PER_PAGE = 25
"""Clusters drawn on one page (one figure) of the image gallery."""

MAX_GALLERY_PAGES = 4
"""Most pages of the gallery; the clusters past ``CLUSTERS_PER_PAGE * MAX_GALLERY_PAGES`` are left out."""

GALLERY_FILES = tuple("clusters.png" if page == 0 else f"clusters-{page + 1}.png" for page in range(MAX_GALLERY_PAGES))
"""The file names of the gallery's pages, in order: ``clusters.png``, ``clusters-2.png``..."""

PROFILES_FILE = "profiles.png"
"""The heat map of a table's cluster profiles."""

CLUSTERS_CSV = "clusters.csv"
"""The per-cluster table."""

REPORT_FILE = "report.html"
"""The report page."""
