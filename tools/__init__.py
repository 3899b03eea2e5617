"""Glue between the snippets, the pages, MkDocs and pytest. Each module has one job."""
