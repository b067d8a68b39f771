"""The optional compiled CRF decoder; everything else about the package is in pyproject.toml.

``ner._crfkernel`` is built where a C compiler exists.  Where it cannot be built the
installation still succeeds (``optional=True``: setuptools reports the failure and
goes on) and ``ner.crf`` decodes with its numpy reference.
"""
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class OptionalBuildExt(build_ext):
    """Compiler flags per compiler family; a failed build of the optional extension is only a warning."""

    def build_extension(self, ext):
        if self.compiler.compiler_type == "unix":
            # no fused multiply-add contraction: the same float operations as the numpy reference
            ext.extra_compile_args = ["-O3", "-ffp-contract=off"]
        super().build_extension(ext)


setup(
    ext_modules=[Extension("ner._crfkernel", ["ner/_crfkernel.c"], optional=True)],
    cmdclass={"build_ext": OptionalBuildExt},
)
