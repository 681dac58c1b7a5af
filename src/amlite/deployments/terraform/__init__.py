"""Terraform AzAPI: ``azapi_resource`` configurations read with python-hcl2 into ARM templates.

``load_configuration(paths, variables, var_files)`` gives a ``Configuration``: the template
(one ARM resource per resource instance, ``dependsOn`` from references) and the ids of the
resources it creates, in creation order (``--destroy`` removes them in reverse).
"""

from .configuration import Configuration, compile_path, load_configuration
from .errors import TerraformError

__all__ = ["Configuration", "TerraformError", "compile_path", "load_configuration"]
