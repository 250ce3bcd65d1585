"""Makes ``mem0_hooks`` importable for the hook executables beside this file.

From a checkout or a plugin directory the package sits next to ``hooks/``; in an install it is in the
virtualenv's site-packages, which ``python -S`` (the fast start the installer uses) leaves off sys.path.
"""

import os
import sys

_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.path.isdir(os.path.join(_root, "mem0_hooks")):
    sys.path.insert(0, _root)
elif sys.flags.no_site:
    sys.path.append(
        os.path.join(sys.prefix, "lib", "python%d.%d" % sys.version_info[:2], "site-packages")
    )
