"""The read-only web view: pages, the JSON API under /api/ and Atom feeds (`monitor web`)."""
