"""Shared test set-up: the source tree on sys.path is provided by the editable install."""
