"""Package list for setuptools; all other metadata is in pyproject.toml.

The top-level presets/ directory is shipped inside the wheel as `moetui._presets`, so
that `moetui.presets` finds the same presets after a plain `pip install .` as in a
source checkout (where it reads presets/ directly).
"""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["moetui*", "engine*"]) + ["moetui._presets", "moetui._presets.studies"],
    package_dir={"moetui._presets": "presets"},
)
