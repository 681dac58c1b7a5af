"""amlite's own Bicep compiler: a ``.bicep`` file (and its local modules) to an ARM template.

``compile_file(path)`` gives the template as ``bicep build`` would write it (classic form:
a ``resources`` array with computed ``dependsOn``); ``load_bicepparam(path)`` reads a
``.bicepparam`` file (``compile_params(path)`` gives it as a deploymentParameters document).
Errors are ``BicepError`` whose message starts with file:line:column.
"""

from .compiler import compile_file
from .errors import BicepError, Position
from .params import compile_params, load_bicepparam

__all__ = ["BicepError", "Position", "compile_file", "compile_params", "load_bicepparam"]
