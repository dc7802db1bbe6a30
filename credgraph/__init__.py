"""credgraph: a graph platform for social-credit risk.

The layers live in the top-level folders of the repository and are installed as
subpackages of this one: ``graph/`` is ``credgraph.graph``, ``loaders/`` is
``credgraph.loaders``, and so on (see ``pyproject.toml``).
"""

__version__ = "0.1.0"
