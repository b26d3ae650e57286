"""The workspace index and repository context for completions.

* :mod:`~codesaga.repo.files`: which files to index (``.gitignore``, binary, huge, generated).
* :mod:`~codesaga.repo.chunks`: a file cut into definition chunks (tags.scm) and windows.
* :mod:`~codesaga.repo.index`: :class:`RepoIndex`, the chunks in SQLite with FTS5 BM25.
* :mod:`~codesaga.repo.context`: :func:`repo_snippets`, definitions near the cursor and
  similar chunks within a token budget.
"""

from codesaga.repo.chunks import Chunk, chunk_file
from codesaga.repo.context import Snippet, repo_snippets
from codesaga.repo.files import workspace_files
from codesaga.repo.index import IndexReport, RepoIndex

__all__ = [
    "Chunk",
    "IndexReport",
    "RepoIndex",
    "Snippet",
    "chunk_file",
    "repo_snippets",
    "workspace_files",
]
